/** needs(): skip when a requirement is missing, fail instead under EDGE_EMBED_NO_SKIP=1, never skip when it is there. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MissingRequirementError, needs, noSkip } from './requirements.js';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('needs', () => {
  it('does not skip when the requirement is there, flag or not', () => {
    vi.stubEnv('EDGE_EMBED_NO_SKIP', '');
    expect(needs(true, 'anything')).toBe(false);
    vi.stubEnv('EDGE_EMBED_NO_SKIP', '1');
    expect(needs(true, 'anything')).toBe(false);
  });

  it('skips with a warning naming the requirement when it is missing and the flag is unset or 0', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    for (const value of ['', '0']) {
      vi.stubEnv('EDGE_EMBED_NO_SKIP', value);
      expect(noSkip()).toBe(false);
      expect(needs(false, '/usr/bin/chromium')).toBe(true);
    }
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[0][0]).toContain('/usr/bin/chromium');
  });

  it('throws naming the requirement when it is missing and EDGE_EMBED_NO_SKIP=1', () => {
    for (const value of ['1', 'true']) {
      vi.stubEnv('EDGE_EMBED_NO_SKIP', value);
      expect(noSkip()).toBe(true);
      expect(() => needs(false, '../shared/reference/all-MiniLM-L6-v2')).toThrow(MissingRequirementError);
      expect(() => needs(false, '../shared/reference/all-MiniLM-L6-v2')).toThrow(
        /EDGE_EMBED_NO_SKIP=1 .*\.\.\/shared\/reference\/all-MiniLM-L6-v2/,
      );
    }
  });
});
