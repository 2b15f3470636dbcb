import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accuracy, exactMatch, exactMatchScorer, openAiScorer } from './scorer';

describe('exact match', () => {
  it('normalises case, punctuation and a trailing explanation', async () => {
    expect(exactMatch('Red.', 'red')).toBe(true);
    expect(exactMatch('red, moving left', 'red')).toBe(true);
    expect(exactMatch('dark red', 'red')).toBe(false);
    expect(await exactMatchScorer.score({ question: 'q', reference: null, answer: 'red' })).toBeNull();
    expect(accuracy('exact', [1, 0, null, 1])).toBeCloseTo(2 / 3);
    expect(accuracy('grade', [5, 3, 2, 1])).toBe(0.5);
    expect(accuracy('exact', [null])).toBeNull();
  });
});

describe('an OpenAI-compatible scorer', () => {
  const seen: { auth?: string; body: { model: string; messages: { content: string }[] } }[] = [];
  let url = '';
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (b: Buffer) => (text += b.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as { model: string; messages: { content: string }[] };
      seen.push({ auth: req.headers.authorization, body });
      if (req.url !== '/v1/chat/completions') return void res.writeHead(404).end('no such route');
      const reply = body.messages[0].content.includes('Predicted answer: red') ? 'Score: 4' : 'I cannot tell';
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { content: reply } }] }));
    });
  });
  beforeAll(async () => {
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  it('grades through the endpoint with the key from the named variable, and gives null when the reply has no grade', async () => {
    process.env.ISR_TEST_SCORER_KEY = 'sk-test';
    const scorer = openAiScorer({ url, model: 'judge-7b', apiKeyEnv: 'ISR_TEST_SCORER_KEY' });
    expect(await scorer.score({ question: 'What colour?', reference: 'red', answer: 'red' })).toBe(4);
    expect(await scorer.score({ question: 'What colour?', reference: 'red', answer: 'blue' })).toBeNull();
    expect(seen[0]).toMatchObject({ auth: 'Bearer sk-test', body: { model: 'judge-7b' } });
    expect(seen[0].body.messages[0].content).toContain('Correct answer: red');
  });

  it('names the endpoint when it fails', async () => {
    const wrong = openAiScorer({ url: `${url}/nope`, model: 'm', apiKeyEnv: 'UNSET_VARIABLE' });
    await expect(wrong.score({ question: 'q', reference: 'a', answer: 'a' })).rejects.toThrow(/scorer .*\/nope answered 404: no such route/);
    expect(seen.at(-1)!.auth).toBeUndefined();
  });
});
