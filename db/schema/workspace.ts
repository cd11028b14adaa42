/** Row types of the workspace tables. Each feature area keeps its tables in its own file. */

// biome-ignore lint/suspicious/noEmptyInterface: filled in as the workspace feature adds tables
export interface WorkspaceTables {}
