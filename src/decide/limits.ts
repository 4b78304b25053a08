/** Named limits of the decision core. */

/**
 * Work one decision may do, in keyring units (one per auths key compared with an image, one per
 * listed secret without keys walked for an image, one per glob step, one per preferred name
 * scanned; see WorkMeter). Every step of decide() is linear in
 * the spec and in the namespace's keys, but their product is not bounded: 100,000 distinct images
 * against 100,000 keys the pod's namespace may hold. Real pods need a few thousand units (tens of
 * images, tens of keys); 4 million take at most about a second of CPU on this project's CI
 * machine (`npm run bench:adversarial`), inside the chart's 4 s request timeout. A pod beyond it is denied unchecked
 * (DecisionBudgetExceeded) rather than stalling every other review behind it.
 */
export const DECIDE_WORK_BUDGET = 4_000_000;
