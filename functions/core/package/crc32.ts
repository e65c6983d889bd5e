/**
 * CRC-32 (the zip/zlib one: reflected polynomial 0xEDB88320) of a concatenation from the CRCs of
 * its parts, so the parts of one entry can be checksummed on different threads.
 *
 * Why it works: with the pre- and post-inversion of the standard CRC cancelling out, the CRC of
 * `A ‖ B` is `crc(A) · x^(8·|B|) mod P` xor `crc(B)`, in GF(2) polynomial arithmetic. Polynomials
 * are held bit-reflected like the CRC itself: bit 31 is the coefficient of x⁰, bit 0 that of x³¹.
 */

/** The CRC-32 polynomial, reflected (x³² is implicit). */
const POLYNOMIAL = 0xedb88320;
/** x⁰ = 1 in the reflected representation. */
const ONE = 0x80000000;
/** x⁸: appending one byte multiplies by it. */
const X8 = ONE >>> 8;

/** `a · b mod P` for reflected 32-bit polynomials. */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  let factor = b >>> 0;
  // Walk a's coefficients from x⁰ up; `factor` is b · xⁱ mod P at step i.
  for (let bit = ONE; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= factor;
    factor = factor & 1 ? (factor >>> 1) ^ POLYNOMIAL : factor >>> 1;
  }
  return product >>> 0;
}

/** x^(8·bytes) mod P, by square-and-multiply. */
function shiftFactor(bytes: number): number {
  let result = ONE;
  let square = X8;
  for (let n = bytes; n > 0; n = Math.floor(n / 2)) {
    if (n % 2 === 1) result = multiplyModP(result, square);
    square = multiplyModP(square, square);
  }
  return result;
}

/**
 * The CRC-32 of `A ‖ B` given `crc32(A)`, `crc32(B)` and the length of B in bytes.
 *
 * @example
 * crc32Combine(crc32(a), crc32(b), b.length) === crc32(Buffer.concat([a, b])) // true
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) {
    throw new RangeError(`invalid length for crc32Combine: ${lengthB}`);
  }
  if (lengthB === 0) return crcA >>> 0;
  return (multiplyModP(crcA >>> 0, shiftFactor(lengthB)) ^ crcB) >>> 0;
}
