// "nft-lens/element": importing it defines <nft-lens> (once; a second import is a no-op).
import { NftLensElement } from './index.js';
export { NftLens, NftLensElement } from './index.js';
export type * from './index.js';
/** An http(s) URL string, or '' (used for links and remote images from the bundle). */
export declare function safeHttpUrl(value: unknown): string;
export default NftLensElement;
