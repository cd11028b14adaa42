/** Row types of the webhooks tables. Each feature area keeps its tables in its own file. */

// biome-ignore lint/suspicious/noEmptyInterface: filled in as the webhooks feature adds tables
export interface WebhooksTables {}
