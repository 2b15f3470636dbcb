import { describe, expect, it } from 'vitest';
import { positionIds } from './position-ids';

const ids = (rows: number[][]) => BigInt64Array.from(rows.flat(), BigInt);

describe('positionIds', () => {
  it('numbers every slot of a right-padded row, padding included', () => {
    expect(positionIds([3, 1, 4], 4, 'right')).toEqual(ids([
      [0, 1, 2, 3],
      [0, 1, 2, 3],
      [0, 1, 2, 3],
    ]));
  });

  it('numbers the tokens of a left-padded row from 0 and sets its padding to 1, as transformers does', () => {
    expect(positionIds([3, 1, 4, 0], 4, 'left')).toEqual(ids([
      [1, 0, 1, 2],
      [1, 1, 1, 0],
      [0, 1, 2, 3],
      [1, 1, 1, 1],
    ]));
  });

  it('refuses a row longer than the padded length', () => {
    expect(() => positionIds([2, 5], 4, 'left')).toThrow('row 1 has 5 tokens, which does not fit a padded length of 4');
  });
});
