/** The keys of the shard's reshard credentials (Secret keys, or file names of the local driver). */
export const RESHARD_KEYS = { password: "reshard-password", verifier: "reshard-verifier" } as const;
