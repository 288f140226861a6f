import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_PRESETS, writeBertFixture } from '../../src/fixtures/bert-fixture.js';
import { readModelDir } from '../../src/readers/model-dir.js';

let work: string;
let dir: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'edge-embed-reader-'));
  dir = join(work, 'tiny');
  await writeBertFixture(dir, { ...FIXTURE_PRESETS.tiny, pooling: 'cls', normalize: false });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('readModelDir', () => {
  it('reads pooling, normalisation and max tokens from the sentence-transformers files', async () => {
    const source = await readModelDir(dir);
    expect(source.pooling).toBe('cls');
    expect(source.normalize).toBe(false);
    expect(source.maxTokens).toBe(128);
    expect(Object.keys(source.sourceFiles)).toContain('model.onnx');
    const fileHash = async (name: string) =>
      createHash('sha256')
        .update(await readFile(join(dir, name)))
        .digest('hex');
    expect(source.sourceFiles['model.onnx']).toBe(await fileHash('model.onnx'));
    expect(source.sourceFiles['tokenizer.json']).toBe(await fileHash('tokenizer.json'));
    expect(source.sourceFiles['1_Pooling/config.json']).toBe(await fileHash('1_Pooling/config.json'));
  });

  it('builds an equivalent WordPiece tokenizer from vocab.txt when tokenizer.json is absent', async () => {
    const copy = join(work, 'vocab-only');
    await writeBertFixture(copy, FIXTURE_PRESETS.tiny);
    const original = JSON.parse(await readFile(join(copy, 'tokenizer.json'), 'utf8'));
    await unlink(join(copy, 'tokenizer.json'));
    const source = await readModelDir(copy);
    expect(source.notes.join('\n')).toMatch(/built a WordPiece tokenizer from vocab.txt/);
    const text = 'Unaffable café owners in Zürich sell 42 croissants!';
    expect(new Tokenizer(source.tokenizerJson, {}).encode(text).ids).toEqual(
      new Tokenizer(original, {}).encode(text).ids,
    );
  });

  it('refuses a pooling config that enables two modes at once', async () => {
    const copy = join(work, 'two-modes');
    await writeBertFixture(copy, FIXTURE_PRESETS.tiny);
    await writeFile(
      join(copy, '1_Pooling', 'config.json'),
      JSON.stringify({ word_embedding_dimension: 32, pooling_mode_mean_tokens: true, pooling_mode_cls_token: true }),
    );
    await expect(readModelDir(copy)).rejects.toThrow(/enables mean \+ cls; expected exactly one/);
  });

  it("reads sentence-transformers' prompts and default prompt name from config_sentence_transformers.json", async () => {
    expect(await readModelDir(dir)).toMatchObject({ prompts: {}, defaultPromptName: null });
    const copy = join(work, 'prompts');
    await writeBertFixture(copy, FIXTURE_PRESETS.tiny);
    const config = join(copy, 'config_sentence_transformers.json');
    const prompts = { query: 'query: ', passage: 'passage: ' };
    await writeFile(config, JSON.stringify({ prompts, default_prompt_name: 'query', similarity_fn_name: 'cosine' }));
    const source = await readModelDir(copy);
    expect(source).toMatchObject({ prompts, defaultPromptName: 'query' });
    expect(Object.keys(source.sourceFiles)).toContain('config_sentence_transformers.json');

    await writeFile(config, JSON.stringify({ prompts, default_prompt_name: 'document' }));
    await expect(readModelDir(copy)).rejects.toThrow(
      /default_prompt_name "document" is not one of the prompts \(query, passage\)/,
    );
    await writeFile(config, JSON.stringify({ prompts: { query: 1 } }));
    await expect(readModelDir(copy)).rejects.toThrow(/prompts.query must be a string/);
  });

  it('refuses a folder without a tokenizer', async () => {
    const copy = join(work, 'no-tokenizer');
    await writeBertFixture(copy, FIXTURE_PRESETS.tiny);
    await unlink(join(copy, 'tokenizer.json'));
    await unlink(join(copy, 'vocab.txt'));
    await expect(readModelDir(copy)).rejects.toThrow(/neither tokenizer.json nor vocab.txt/);
  });
});
