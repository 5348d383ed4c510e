// Two small edits of Windows PE files, for running the windows-x64 binary under an older Wine
// (scripts/runners.ts says when and why): a DLL that only forwards one function elsewhere, and
// renaming an import of an executable.

/**
 * A minimal PE32+ DLL whose one export is a forwarder (`name` → "dll.function"): no code, no
 * imports, one read-only section holding the export directory. Forwarders are resolved by the
 * loader, so this is all a DLL needs to be when it only renames someone else's function.
 */
export function forwardingDll(dllName: string, name: string, target: string): Uint8Array {
  const FILE_ALIGN = 0x200;
  const RVA = 0x1000; // the one section
  // Export directory (40 bytes), then its three tables, then the strings.
  const strings = [dllName, name, target].map((s) => new TextEncoder().encode(`${s}\0`));
  const dirSize = 40 + 4 + 4 + 2;
  const offName = dirSize;
  const offFn = offName + strings[0].length;
  const offTarget = offFn + strings[1].length;
  const edataSize = offTarget + strings[2].length;
  const rawSize = Math.ceil(edataSize / FILE_ALIGN) * FILE_ALIGN;

  const out = new Uint8Array(FILE_ALIGN + rawSize);
  const v = new DataView(out.buffer);
  // DOS header: "MZ" and the offset of the PE header.
  out.set([0x4d, 0x5a]);
  v.setUint32(0x3c, 0x40, true);
  // PE signature and COFF header.
  let p = 0x40;
  out.set([0x50, 0x45, 0, 0], p);
  p += 4;
  v.setUint16(p, 0x8664, true); // x86-64
  v.setUint16(p + 2, 1, true); // one section
  v.setUint16(p + 16, 240, true); // optional header size (PE32+ with 16 directories)
  v.setUint16(p + 18, 0x2022, true); // executable image | large address aware | DLL
  p += 20;
  // Optional header (PE32+).
  const opt = p;
  v.setUint16(opt, 0x20b, true);
  v.setUint32(opt + 8, rawSize, true); // SizeOfInitializedData
  v.setUint32(opt + 16, 0, true); // no entry point: nothing to initialise
  v.setUint32(opt + 20, RVA, true); // BaseOfCode
  v.setBigUint64(opt + 24, 0x180000000n, true); // ImageBase
  v.setUint32(opt + 32, 0x1000, true); // SectionAlignment
  v.setUint32(opt + 36, FILE_ALIGN, true); // FileAlignment
  v.setUint16(opt + 40, 6, true); // OS version 6.0
  v.setUint16(opt + 48, 6, true); // subsystem version 6.0
  v.setUint32(opt + 56, RVA + 0x1000, true); // SizeOfImage
  v.setUint32(opt + 60, FILE_ALIGN, true); // SizeOfHeaders
  v.setUint16(opt + 68, 3, true); // console subsystem
  v.setBigUint64(opt + 72, 0x100000n, true); // stack reserve
  v.setBigUint64(opt + 80, 0x1000n, true); // stack commit
  v.setBigUint64(opt + 88, 0x100000n, true); // heap reserve
  v.setBigUint64(opt + 96, 0x1000n, true); // heap commit
  v.setUint32(opt + 108, 16, true); // NumberOfRvaAndSizes
  v.setUint32(opt + 112, RVA, true); // export directory
  v.setUint32(opt + 116, edataSize, true);
  p = opt + 240;
  // Section header.
  out.set(new TextEncoder().encode(".edata"), p);
  v.setUint32(p + 8, edataSize, true); // VirtualSize
  v.setUint32(p + 12, RVA, true);
  v.setUint32(p + 16, rawSize, true);
  v.setUint32(p + 20, FILE_ALIGN, true); // PointerToRawData
  v.setUint32(p + 36, 0x40000040, true); // initialised data, readable
  // The export directory.
  const e = FILE_ALIGN;
  v.setUint32(e + 12, RVA + offName, true); // Name
  v.setUint32(e + 16, 1, true); // ordinal base
  v.setUint32(e + 20, 1, true); // NumberOfFunctions
  v.setUint32(e + 24, 1, true); // NumberOfNames
  v.setUint32(e + 28, RVA + 40, true); // AddressOfFunctions
  v.setUint32(e + 32, RVA + 44, true); // AddressOfNames
  v.setUint32(e + 36, RVA + 48, true); // AddressOfNameOrdinals
  // The function's address points inside the export directory: that makes it a forwarder.
  v.setUint32(e + 40, RVA + offTarget, true);
  v.setUint32(e + 44, RVA + offFn, true);
  v.setUint16(e + 48, 0, true);
  out.set(strings[0], e + offName);
  out.set(strings[1], e + offFn);
  out.set(strings[2], e + offTarget);
  return out;
}

/**
 * Renames imports of a PE executable in place (same length or shorter names): `from` → `to`,
 * for imports by name from `dll`. Returns how many were renamed. The import's hint/name entry
 * is what both the lookup table and the (unbound) address table point at, so renaming it there
 * is all the loader sees.
 */
export function renamePeImports(exe: Uint8Array, dll: string, renames: Record<string, string>): number {
  const v = new DataView(exe.buffer, exe.byteOffset, exe.byteLength);
  const pe = v.getUint32(0x3c, true);
  const sections = v.getUint16(pe + 6, true);
  const optSize = v.getUint16(pe + 20, true);
  const opt = pe + 24;
  if (v.getUint16(opt, true) !== 0x20b) throw new Error("not a PE32+ image");
  const importRva = v.getUint32(opt + 112 + 8, true);
  const table: { va: number; size: number; raw: number }[] = [];
  for (let i = 0; i < sections; i++) {
    const s = opt + optSize + 40 * i;
    table.push({
      size: Math.max(v.getUint32(s + 8, true), v.getUint32(s + 16, true)),
      va: v.getUint32(s + 12, true),
      raw: v.getUint32(s + 20, true),
    });
  }
  const offset = (rva: number) => {
    const s = table.find((t) => rva >= t.va && rva < t.va + t.size);
    if (!s) throw new Error(`RVA ${rva.toString(16)} is in no section`);
    return rva - s.va + s.raw;
  };
  const cstring = (at: number) => {
    let end = at;
    while (exe[end] !== 0) end++;
    return new TextDecoder().decode(exe.subarray(at, end));
  };
  let renamed = 0;
  for (let d = offset(importRva); ; d += 20) {
    const lookup = v.getUint32(d, true) || v.getUint32(d + 16, true);
    const name = v.getUint32(d + 12, true);
    if (name === 0) break;
    if (cstring(offset(name)).toLowerCase() !== dll.toLowerCase()) continue;
    for (let e = offset(lookup); ; e += 8) {
      const entry = v.getBigUint64(e, true);
      if (entry === 0n) break;
      if (entry >> 63n) continue; // by ordinal
      const at = offset(Number(entry & 0x7fffffffn)) + 2; // after the hint
      const to = renames[cstring(at)];
      if (to === undefined) continue;
      const old = cstring(at).length;
      if (to.length > old) throw new Error(`${to} is longer than the import it replaces`);
      exe.fill(0, at, at + old);
      exe.set(new TextEncoder().encode(to), at);
      v.setUint16(at - 2, 0, true); // the hint no longer applies
      renamed++;
    }
  }
  return renamed;
}
