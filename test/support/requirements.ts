/**
 * Tests that depend on the environment (Chromium for the page test, the bundles `npm run build` makes, ../shared beside
 * the clone) skip when what they need is missing, so a machine without it still runs everything else. With
 * EDGE_EMBED_NO_SKIP=1 (.ci/run sets it) a missing requirement fails the test file instead: CI cannot go green by
 * skipping. Every such skip goes through needs().
 */
export const NO_SKIP_VARIABLE = 'EDGE_EMBED_NO_SKIP';

export class MissingRequirementError extends Error {
  override name = 'MissingRequirementError';
}

/** Whether EDGE_EMBED_NO_SKIP is set to 1 (or true). */
export function noSkip(): boolean {
  const value = globalThis.process?.env?.[NO_SKIP_VARIABLE]?.trim().toLowerCase();
  return value === '1' || value === 'true';
}

/**
 * The skip flag for `describe.skipIf` / `it.skipIf`: false when `available`; otherwise true with a warning naming
 * `what`, or, under EDGE_EMBED_NO_SKIP=1, a MissingRequirementError (thrown while the file is collected, so it fails).
 *
 * @example describe.skipIf(needs(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install -y chromium)`))('the page', () => {})
 */
export function needs(available: boolean, what: string): boolean {
  if (available) return false;
  if (noSkip()) throw new MissingRequirementError(`${NO_SKIP_VARIABLE}=1 and a test needs what is missing: ${what}`);
  console.warn(`skipping tests that need ${what} (set ${NO_SKIP_VARIABLE}=1 to make this a failure)`);
  return true;
}
