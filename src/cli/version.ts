/** The installed package's version (one reader, in util/, shared with serving's snapshots). */
export { packageVersion } from '../util/version.js';
