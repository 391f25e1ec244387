/**
 * The installed package's root directory (where package.json and rules/ are), as a file URL. This
 * module sits one level under the build's output directory, and so does every bundled chunk
 * (`dist/src/…` and `dist/cli/…`), so the same relative path serves both.
 */
export const PACKAGE_ROOT: URL = new URL('../../', import.meta.url);
