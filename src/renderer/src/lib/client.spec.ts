import { describe, expect, it } from 'vitest';
import type { StudioBridge } from '../../../shared/bridge';
import { methodNames } from '../../../shared/contract';
import { ApiError } from '../../../shared/errors';
import { createClient, tokenFromLocation } from './client';

function bridge(answer: StudioBridge['call']): StudioBridge {
  return { call: answer, onEvent: () => () => {}, mediaUrl: (k) => `m:${k}`, pickFile: async () => '/picked.jsonl' };
}

describe('renderer client', () => {
  it('offers every contract method and unwraps successful results', async () => {
    const calls: [string, unknown][] = [];
    const client = createClient(
      bridge(async (method, input) => {
        calls.push([method, input]);
        return { ok: true, value: [{ id: 1 }] };
      }),
      { nativeDialog: false },
    );
    expect(Object.keys(client.api).sort()).toEqual([...methodNames].sort());
    expect(await client.api.listDatasets({})).toEqual([{ id: 1 }]);
    expect(calls).toEqual([['listDatasets', {}]]);
  });

  it('throws the typed ApiError a failed call carries', async () => {
    const client = createClient(
      bridge(async () => ({ ok: false, error: { code: 'invalid_argument', message: 'datasetId: expected number', details: [{ field: 'datasetId' }] } })),
      { nativeDialog: false },
    );
    const err = await client.api.getDatasetRows({ datasetId: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'invalid_argument', message: 'datasetId: expected number', details: [{ field: 'datasetId' }] });
  });

  it('offers the file dialog only where it is native', async () => {
    expect(createClient(bridge(async () => ({ ok: true, value: null })), { nativeDialog: false }).pickFile).toBeUndefined();
    const native = createClient(bridge(async () => ({ ok: true, value: null })), { nativeDialog: true });
    expect(await native.pickFile?.([])).toBe('/picked.jsonl');
  });

  it('takes the token from the URL once, then from session storage, and hides it from the address bar', () => {
    window.history.replaceState(null, '', '/?token=abc#datasets');
    expect(tokenFromLocation(window.location, window.sessionStorage, window.history)).toBe('abc');
    expect(window.location.search).toBe('');
    expect(window.location.hash).toBe('#datasets');
    expect(tokenFromLocation(window.location, window.sessionStorage, window.history)).toBe('abc');
  });
});
