// EXIF (a TIFF structure) edited without re-encoding anything: the GPS IFD removed in place (the
// block keeps its length, so no other offset moves), or the whole block replaced by one that
// holds only the orientation. Pure byte work: no codec, no I/O.

const GPS_POINTER = 0x8825;
const ORIENTATION = 0x0112;
/** Bytes per value of each TIFF type (1 BYTE … 12 DOUBLE); 0: unknown. */
const TYPE_SIZE = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8];

interface Tiff {
  v: DataView;
  le: boolean;
  ifd0: number;
  count: number;
}

function open(t: Uint8Array): Tiff | null {
  if (t.length < 8) return null;
  const order = String.fromCharCode(t[0], t[1]);
  if (order !== "II" && order !== "MM") return null;
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const le = order === "II";
  if (v.getUint16(2, le) !== 42) return null;
  const ifd0 = v.getUint32(4, le);
  if (ifd0 + 2 > t.length) return null;
  const count = v.getUint16(ifd0, le);
  if (ifd0 + 2 + count * 12 + 4 > t.length) return null;
  return { v, le, ifd0, count };
}

/** IFD0's entries: tag, and the entry's offset. */
function entries({ v, le, ifd0, count }: Tiff): { tag: number; at: number }[] {
  return Array.from({ length: count }, (_, i) => {
    const at = ifd0 + 2 + i * 12;
    return { tag: v.getUint16(at, le), at };
  });
}

/** What a TIFF block holds, as stripping sees it. */
export interface ExifFacts {
  /** IFD0 points to a GPS IFD. */
  gps: boolean;
  /** IFD0's orientation (1–8), if it has one. */
  orientation?: number;
  /** Anything besides the orientation and the GPS pointer (more tags, a thumbnail IFD). */
  other: boolean;
}

export function exifFacts(t: Uint8Array): ExifFacts | null {
  const tiff = open(t);
  if (!tiff) return null;
  const { v, le } = tiff;
  let orientation: number | undefined;
  let gps = false;
  let other = false;
  for (const { tag, at } of entries(tiff)) {
    if (tag === GPS_POINTER) gps = true;
    else if (tag === ORIENTATION && v.getUint16(at + 2, le) === 3) orientation = v.getUint16(at + 8, le);
    else other = true;
  }
  const next = v.getUint32(tiff.ifd0 + 2 + tiff.count * 12, le);
  return { gps, orientation, other: other || next !== 0 };
}

/**
 * Removes the GPS IFD in place: its pointer leaves IFD0 (the entries after it move up, the
 * freed bytes become zeros) and the IFD and its values are overwritten with zeros. Returns
 * whether there was one. The block keeps its length and every other offset.
 */
export function removeGps(t: Uint8Array): boolean {
  const tiff = open(t);
  if (!tiff) return false;
  const { v, le, ifd0, count } = tiff;
  const entry = entries(tiff).find((e) => e.tag === GPS_POINTER);
  if (!entry) return false;
  zeroIfd(t, v, le, v.getUint32(entry.at + 8, le));
  const end = ifd0 + 2 + count * 12;
  // The later entries and the next-IFD offset move up one entry.
  t.copyWithin(entry.at, entry.at + 12, end + 4);
  t.fill(0, end - 8, end + 4);
  v.setUint16(ifd0, count - 1, le);
  return true;
}

function zeroIfd(t: Uint8Array, v: DataView, le: boolean, at: number): void {
  if (at < 8 || at + 2 > t.length) return;
  const n = v.getUint16(at, le);
  const end = Math.min(t.length, at + 2 + n * 12 + 4);
  for (let i = 0; i < n && at + 2 + i * 12 + 12 <= t.length; i++) {
    const e = at + 2 + i * 12;
    const size = (TYPE_SIZE[v.getUint16(e + 2, le)] ?? 0) * v.getUint32(e + 4, le);
    if (size <= 4) continue;
    const value = v.getUint32(e + 8, le);
    if (value >= 8 && value + size <= t.length) t.fill(0, value, value + size);
  }
  t.fill(0, at, end);
}

/** A TIFF block with IFD0 holding only the orientation. */
export function orientationOnly(orientation: number): Uint8Array {
  const t = new Uint8Array(26);
  const v = new DataView(t.buffer);
  t.set([0x4d, 0x4d, 0, 42]);
  v.setUint32(4, 8);
  v.setUint16(8, 1);
  v.setUint16(10, ORIENTATION);
  v.setUint16(12, 3);
  v.setUint32(14, 1);
  v.setUint16(18, orientation);
  return t;
}

/** XMP that records a position (exif:GPSLatitude and kin). */
export function xmpHasGps(xmp: Uint8Array): boolean {
  const text = new TextDecoder("latin1").decode(xmp);
  return /GPS(Latitude|Longitude|Altitude|Position)/.test(text);
}

/** What stripping in `all` mode would remove of this EXIF, and its replacement (null: none). */
export function exifForAll(t: Uint8Array): { removed: string[]; replacement: Uint8Array | null } {
  const facts = exifFacts(t);
  // Unreadable EXIF is dropped whole: what it holds is unknown.
  if (!facts) return { removed: ["exif"], replacement: null };
  const removed = [...(facts.gps ? ["gps"] : []), ...(facts.other ? ["exif"] : [])];
  // Nothing but an orientation (in whatever byte order): kept as it is.
  if (removed.length === 0) return { removed, replacement: t };
  return { removed, replacement: facts.orientation === undefined ? null : orientationOnly(facts.orientation) };
}
