// English cardinals as num2words writes them (its default lang "en"): SmolVLM2's processor names a
// video's frame count this way ("eight frames", "twenty-one frames", "one hundred and one frames").
const units = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
  'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const tens = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

function belowHundred(n: number): string {
  return n < 20 ? units[n] : tens[Math.floor(n / 10)] + (n % 10 === 0 ? '' : `-${units[n % 10]}`);
}

function belowThousand(n: number): string {
  const hundreds = Math.floor(n / 100);
  const rest = n % 100;
  if (hundreds === 0) return belowHundred(rest);
  return `${units[hundreds]} hundred${rest === 0 ? '' : ` and ${belowHundred(rest)}`}`;
}

/** `n` (a whole number below a million) in words. */
export function cardinalWords(n: number): string {
  if (!(Number.isInteger(n) && n >= 0 && n < 1_000_000)) throw new Error(`cannot write ${n} in words (whole numbers below a million only)`);
  const thousands = Math.floor(n / 1000);
  const rest = n % 1000;
  if (thousands === 0) return belowThousand(rest);
  const joiner = rest === 0 ? '' : rest < 100 ? ' and ' : ', ';
  return `${belowThousand(thousands)} thousand${rest === 0 ? '' : joiner + belowThousand(rest)}`;
}
