/**
 * Exact arithmetic on PostgreSQL numeric text (`-12.340`, `NaN`, `Infinity`): a BigInt of the
 * digits and the count of fraction digits shown (numeric's display scale). Sums of int8 and
 * numeric must not pass through a double.
 */
export type Decimal =
  | { readonly kind: "finite"; readonly unscaled: bigint; readonly scale: number }
  | { readonly kind: "nan" }
  | { readonly kind: "infinity"; readonly negative: boolean };

const NUMBER = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/;

export function parseDecimal(text: string): Decimal {
  const lower = text.trim().toLowerCase();
  if (lower === "nan") return { kind: "nan" };
  if (lower === "infinity" || lower === "+infinity" || lower === "inf")
    return { kind: "infinity", negative: false };
  if (lower === "-infinity" || lower === "-inf") return { kind: "infinity", negative: true };
  const match = NUMBER.exec(text);
  if (match === null || (match[2] === "" && (match[3] ?? "") === ""))
    throw new RangeError(`not a number: ${text}`);
  const fraction = match[3] ?? "";
  let unscaled = BigInt(`${match[2] || "0"}${fraction}`);
  let scale = fraction.length;
  const exponent = Number(match[4] ?? 0);
  if (exponent > 0) {
    const shift = Math.min(exponent, scale);
    scale -= shift;
    unscaled *= 10n ** BigInt(exponent - shift);
  } else if (exponent < 0) {
    scale -= exponent;
  }
  return { kind: "finite", unscaled: match[1] === "-" ? -unscaled : unscaled, scale };
}

function rescale(unscaled: bigint, from: number, to: number): bigint {
  return to >= from ? unscaled * 10n ** BigInt(to - from) : unscaled;
}

export function addDecimals(a: Decimal, b: Decimal): Decimal {
  if (a.kind === "nan" || b.kind === "nan") return { kind: "nan" };
  if (a.kind === "infinity" && b.kind === "infinity") return a.negative === b.negative ? a : { kind: "nan" };
  if (a.kind === "infinity") return a;
  if (b.kind === "infinity") return b;
  const scale = Math.max(a.scale, b.scale);
  return {
    kind: "finite",
    unscaled: rescale(a.unscaled, a.scale, scale) + rescale(b.unscaled, b.scale, scale),
    scale,
  };
}

/** numeric's order: -Infinity < finite < Infinity < NaN (NaN equals NaN). */
export function compareDecimals(a: Decimal, b: Decimal): number {
  const rank = (d: Decimal) => (d.kind === "nan" ? 2 : d.kind === "infinity" ? (d.negative ? -1 : 1) : 0);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb || ra !== 0) return Math.sign(ra - rb);
  const fa = a as Extract<Decimal, { kind: "finite" }>;
  const fb = b as Extract<Decimal, { kind: "finite" }>;
  const scale = Math.max(fa.scale, fb.scale);
  const x = rescale(fa.unscaled, fa.scale, scale);
  const y = rescale(fb.unscaled, fb.scale, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function formatDecimal(d: Decimal): string {
  if (d.kind === "nan") return "NaN";
  if (d.kind === "infinity") return d.negative ? "-Infinity" : "Infinity";
  const negative = d.unscaled < 0n;
  const digits = (negative ? -d.unscaled : d.unscaled).toString().padStart(d.scale + 1, "0");
  const whole = digits.slice(0, digits.length - d.scale);
  const fraction = d.scale > 0 ? `.${digits.slice(digits.length - d.scale)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

/** The value without trailing fraction zeros: `1.50` and `1.5` are the same numeric. */
export function canonicalDecimal(d: Decimal): string {
  if (d.kind !== "finite") return formatDecimal(d);
  let { unscaled, scale } = d;
  while (scale > 0 && unscaled % 10n === 0n) {
    unscaled /= 10n;
    scale--;
  }
  return formatDecimal({ kind: "finite", unscaled, scale });
}

const NUMERIC_MIN_SIG_DIGITS = 16;
const DEC_DIGITS = 4;

/**
 * sum / count as PostgreSQL's avg computes it for integer and numeric input (numeric_div):
 * the result scale gives at least 16 significant digits and no fewer than the inputs' scales
 * (select_div_scale in numeric.c), rounded half away from zero.
 */
export function averageDecimal(sum: Decimal, count: bigint): Decimal {
  if (sum.kind !== "finite") return sum;
  const countDigits = count.toString();
  const countWeight = Math.floor((countDigits.length - 1) / DEC_DIGITS);
  const countFirst = Number(countDigits.slice(0, countDigits.length - countWeight * DEC_DIGITS));
  let weight = normalizedWeight(sum) - countWeight;
  if (firstDigitGroup(sum) <= countFirst) weight--;
  let scale = NUMERIC_MIN_SIG_DIGITS - weight * DEC_DIGITS;
  scale = Math.min(Math.max(scale, sum.scale, 0), 1000);
  const numerator = sum.unscaled * 10n ** BigInt(scale);
  const denominator = count * 10n ** BigInt(sum.scale);
  const negative = numerator < 0n;
  const abs = negative ? -numerator : numerator;
  let quotient = abs / denominator;
  if ((abs % denominator) * 2n >= denominator) quotient++;
  return { kind: "finite", unscaled: negative ? -quotient : quotient, scale };
}

/** numeric's weight: the power of 10000 of the first non-zero base-10000 digit (0 for zero). */
function normalizedWeight(d: Extract<Decimal, { kind: "finite" }>): number {
  const [whole, fraction] = splitDigits(d);
  if (whole !== "0") return Math.floor((whole.length - 1) / DEC_DIGITS);
  const padded = fraction.padEnd(Math.ceil(fraction.length / DEC_DIGITS) * DEC_DIGITS, "0");
  for (let i = 0; i < padded.length; i += DEC_DIGITS)
    if (Number(padded.slice(i, i + DEC_DIGITS)) !== 0) return -(i / DEC_DIGITS) - 1;
  return 0;
}

function firstDigitGroup(d: Extract<Decimal, { kind: "finite" }>): number {
  const [whole, fraction] = splitDigits(d);
  if (whole !== "0")
    return Number(whole.slice(0, whole.length - Math.floor((whole.length - 1) / DEC_DIGITS) * DEC_DIGITS));
  const padded = fraction.padEnd(Math.ceil(fraction.length / DEC_DIGITS) * DEC_DIGITS, "0");
  for (let i = 0; i < padded.length; i += DEC_DIGITS) {
    const group = Number(padded.slice(i, i + DEC_DIGITS));
    if (group !== 0) return group;
  }
  return 0;
}

function splitDigits(d: Extract<Decimal, { kind: "finite" }>): [string, string] {
  const text = formatDecimal({ ...d, unscaled: d.unscaled < 0n ? -d.unscaled : d.unscaled });
  const [whole = "0", fraction = ""] = text.split(".");
  return [whole.replace(/^0+(?=\d)/, ""), fraction];
}
