/** Row types of the moderation tables. Each feature area keeps its tables in its own file. */

// biome-ignore lint/suspicious/noEmptyInterface: filled in as the moderation feature adds tables
export interface ModerationTables {}
