import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * zod as imggate uses it: the functional build (`zod/mini`). Modules import it as `import * as z
 * from '../zod.js'` and name only what they use, so a bundle takes only those parts; zod's classic
 * build carries all of itself into every thread (importing the check thread's bundle: 62–69 ms,
 * against 76–95 with classic). Its messages are zod's English ones, as classic sets them by default.
 */
config(en());

export * from 'zod/mini';
