// A small EXIF reader for the image page (JPEG APP1 and TIFF headers; the tags people look
// for). A full library would cost more than the rest of the dashboard.

const TAGS: Record<number, string> = {
  0x010f: "Make",
  0x0110: "Model",
  0x0112: "Orientation",
  0x0131: "Software",
  0x0132: "DateTime",
  0x829a: "ExposureTime",
  0x829d: "FNumber",
  0x8827: "ISO",
  0x9003: "DateTimeOriginal",
  0x920a: "FocalLength",
  0xa002: "PixelXDimension",
  0xa003: "PixelYDimension",
  0xa434: "LensModel",
};
const EXIF_IFD = 0x8769;

function tiff(view: DataView, start: number, out: Record<string, string>) {
  const little = view.getUint16(start) === 0x4949;
  const u16 = (o: number) => view.getUint16(start + o, little);
  const u32 = (o: number) => view.getUint32(start + o, little);
  const ifd = (offset: number, depth: number) => {
    if (depth > 2 || offset + 2 > view.byteLength - start) return;
    const n = u16(offset);
    for (let i = 0; i < n && i < 200; i++) {
      const e = offset + 2 + i * 12;
      if (start + e + 12 > view.byteLength) return;
      const tag = u16(e);
      const type = u16(e + 2);
      const count = u32(e + 4);
      const at = (size: number) => (size * count > 4 ? u32(e + 8) : e + 8);
      if (tag === EXIF_IFD) ifd(u32(e + 8), depth + 1);
      const name = TAGS[tag];
      if (!name) continue;
      if (type === 2) {
        const o = at(1);
        let s = "";
        for (let k = 0; k < count - 1 && start + o + k < view.byteLength; k++) s += String.fromCharCode(view.getUint8(start + o + k));
        out[name] = s.trim();
      } else if (type === 3) out[name] = String(u16(at(2)));
      else if (type === 4) out[name] = String(u32(at(4)));
      else if (type === 5 || type === 10) {
        const o = at(8);
        const num = u32(o);
        const den = u32(o + 4) || 1;
        out[name] = name === "ExposureTime" && num < den ? `1/${Math.round(den / num)} s` : String(Math.round((num / den) * 100) / 100);
      }
    }
  };
  ifd(u32(4), 0);
}

export function readExif(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint16(0) === 0xffd8) {
      let o = 2;
      while (o + 4 < view.byteLength) {
        const marker = view.getUint16(o);
        const len = view.getUint16(o + 2);
        if (marker === 0xffe1 && view.getUint32(o + 4) === 0x45786966) {
          tiff(view, o + 10, out);
          break;
        }
        if ((marker & 0xff00) !== 0xff00 || marker === 0xffda) break;
        o += 2 + len;
      }
    } else if (view.getUint16(0) === 0x4949 || view.getUint16(0) === 0x4d4d) tiff(view, 0, out);
  } catch {
    // A damaged header: show what was read.
  }
  return out;
}
