import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../package-root.js';

/** The rules shipped with imggate: `rules/` beside the package. */
export const DEFAULT_RULES_DIR = fileURLToPath(new URL('rules/', PACKAGE_ROOT));
