// What a run stored, item by item, with ids left out so two runs (one interrupted and resumed, one
// not) compare as equal exactly when they hold the same data.
import Database from 'better-sqlite3';

export function runContents(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    const all = (sql: string) => db.prepare(sql).all();
    return {
      rounds: all('SELECT round, policy_model_id, output_model_id, phase FROM rounds ORDER BY round'),
      responses: all('SELECT r.round, s.prompt_id, s.sample, s.text FROM responses s JOIN rounds r ON r.id = s.round_id ORDER BY 1, 2, 3'),
      contexts: all('SELECT r.round, c.video_id, c.text, c.refined_id IS NOT NULL AS refined FROM contexts c JOIN rounds r ON r.id = c.round_id ORDER BY 1, 2'),
      judgments: all('SELECT r.round, j.response_a_id, j.shown_first, round(j.p_first, 6) AS p, j.context_id IS NOT NULL AS with_context, j.attention IS NOT NULL AS with_attention FROM judgments j JOIN rounds r ON r.id = j.round_id ORDER BY 1, 2, 3'),
      pairs: all('SELECT r.round, p.prompt_id, p.judge_choice FROM pairs p JOIN rounds r ON r.id = p.round_id ORDER BY 1, 2'),
      steps: all('SELECT r.round, t.step FROM train_steps t JOIN rounds r ON r.id = t.round_id ORDER BY 1, 2'),
      evaluations: all('SELECT r.round, e.prompt_id, e.answer FROM evaluations e JOIN rounds r ON r.id = e.round_id ORDER BY 1, 2'),
      integrity: db.pragma('integrity_check', { simple: true }),
    };
  } finally {
    db.close();
  }
}

