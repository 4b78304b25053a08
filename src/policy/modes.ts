/** The policy's modes, apart from schema.ts so that code reading a policy does not load zod. */
export const MODES = ['enforce', 'warn', 'dry-run'] as const;
export type Mode = (typeof MODES)[number];
