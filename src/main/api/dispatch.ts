// The one place a call from any transport (IPC, HTTP) meets the service: validate, run, wrap.
import { ApiError, toErrorShape } from '../../shared/errors';
import { describeIssues, fieldIssues } from '../../shared/field-issues';
import {
  contract,
  isMethodName,
  type CallResult,
  type MethodName,
  type StudioService,
} from '../../shared/contract';

export async function dispatch(
  service: StudioService,
  methodName: string,
  rawInput: unknown,
): Promise<CallResult<unknown>> {
  try {
    if (!isMethodName(methodName)) {
      throw new ApiError('not_found', `unknown API method "${methodName}"`);
    }
    const parsed = contract[methodName].input.safeParse(rawInput ?? {});
    if (!parsed.success) {
      const issues = fieldIssues(parsed.error, '(input)');
      throw new ApiError('invalid_argument', `${methodName}: ${describeIssues(issues)}`, issues);
    }
    const fn = service[methodName] as (input: unknown) => Promise<unknown>;
    return { ok: true, value: await fn.call(service, parsed.data) };
  } catch (err) {
    return { ok: false, error: toErrorShape(err) };
  }
}

export type { MethodName };
