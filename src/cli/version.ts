/** The package version (src/version.ts, below every module that names it). */
export { VERSION } from '../version.js';
