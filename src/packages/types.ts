import type { Ecosystem } from './versions/index.js';

/** One installed package, as found in the image's final filesystem. */
export interface InstalledPackage {
  readonly ecosystem: Ecosystem;
  readonly name: string;
  readonly version: string;
  /** The source package (dpkg `Source:`, apk `o:`) where the database records it. */
  readonly source?: string;
  readonly sourceVersion?: string;
  readonly arch?: string;
  /** The database or manifest file it was read from. */
  readonly path: string;
  /** The layer that installed this version: the earliest whose copy of the database lists it. */
  readonly layerIndex: number;
}

/** What /etc/os-release says of the distribution. */
export interface OsInfo {
  readonly id: string;
  readonly versionId?: string;
  readonly codename?: string;
  readonly prettyName?: string;
}

export interface Inventory {
  readonly os?: OsInfo;
  readonly packages: InstalledPackage[];
}
