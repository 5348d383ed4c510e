// Reads of a header that may be cut short anywhere: past the end is -1 (or ""), never an
// exception, so every format reader treats a short field as "not recognised".

export /** Big- or little-endian reads that return -1 instead of reading past the end. */
class Bytes {
  constructor(
    readonly b: Uint8Array,
    public le = false,
  ) {}
  get length(): number {
    return this.b.length;
  }
  u8(o: number): number {
    return o >= 0 && o < this.b.length ? this.b[o]! : -1;
  }
  u16(o: number): number {
    if (o < 0 || o + 2 > this.b.length) return -1;
    return this.le ? this.b[o]! | (this.b[o + 1]! << 8) : (this.b[o]! << 8) | this.b[o + 1]!;
  }
  u24le(o: number): number {
    if (o < 0 || o + 3 > this.b.length) return -1;
    return this.b[o]! | (this.b[o + 1]! << 8) | (this.b[o + 2]! << 16);
  }
  u32(o: number): number {
    if (o < 0 || o + 4 > this.b.length) return -1;
    const [a, b, c, d] = [this.b[o]!, this.b[o + 1]!, this.b[o + 2]!, this.b[o + 3]!];
    // `>>> 0` keeps values ≥ 2^31 positive (a 65536×65536 PNG is legal input to probe).
    return (this.le ? a | (b << 8) | (c << 16) | (d << 24) : (a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  }
  ascii(o: number, n: number): string {
    if (o < 0 || o + n > this.b.length) return "";
    return String.fromCharCode(...this.b.subarray(o, o + n));
  }
}
