// Which accelerator this machine has, and runs under other engine settings: for the specs and
// benchmarks that exercise the engine on a GPU where one is (the WebGPU test project, bench gpu).
import { GraphBuilder } from '../graph/builder';
import { Session } from '../graph/session';

/** Whether a session opens on `provider` here: null if it does, else the line saying why not. */
export async function whyNotOn(provider: string): Promise<string | null> {
  const b = new GraphBuilder('probe');
  b.output(b.add(b.input('x', 'float32', [2]), 1), 'y');
  const lines: string[] = [];
  const session = await Session.create(b.build(), { graphName: `${provider}-probe`, providers: [provider, 'cpu'], logger: (line) => lines.push(line) });
  await session.release();
  return session.provider === provider ? null : lines.join('\n');
}

/** `f` with environment variables set (the engine's settings are read when sessions open), then restored. */
export async function withEnv<T>(env: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
