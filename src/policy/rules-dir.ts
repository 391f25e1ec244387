import { fileURLToPath } from 'node:url';

/** The rules shipped with imggate: `rules/` beside the package. */
export const DEFAULT_RULES_DIR = fileURLToPath(new URL('../../../rules/', import.meta.url));
