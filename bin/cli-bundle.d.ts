export declare const BUNDLE_FILE: string;
export declare const STAMP_FILE: string;
/** The bundle's path when every input listed in its stamp is unchanged, otherwise undefined. */
export declare function currentBundle(root: string, dir: string): string | undefined;
