/**
 * Defaults of the environment that settings apply, apart so that the
 * scripts which must look at the environment before it is parsed (the
 * runner loads `.env` first; the seed finds the node holding the data) use
 * the same values without parsing it.
 */

/** Where the embedded default keeps its files when DATA_DIR is not set. */
export const DEFAULT_DATA_DIR = "./data";
