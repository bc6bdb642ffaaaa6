/**
 * The flags table's shape: the one definition the Pulumi component and the local runtime both
 * build from, so a key or stream setting cannot drift between AWS and `npm start`.
 */
export const FLAGS_TABLE = {
  hashKey: "flagName",
  attributes: [{ name: "flagName", type: "S" }],
  /** Realtime and audit consumers need both images to tell creates, updates, reads and deletes apart. */
  streamViewType: "NEW_AND_OLD_IMAGES",
} as const;
