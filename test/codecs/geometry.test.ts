import { expect, test } from "bun:test";
import { plan, shrinkOnLoad } from "../../codecs/geometry.ts";
import type { Fit } from "../../codecs/types.ts";

const p = (sw: number, sh: number, fit: Fit, width?: number, height?: number, enlarge = false) =>
  plan(sw, sh, { fit, width, height, enlarge });

test("no size keeps the source size", () => {
  expect(p(1920, 1080, "cover")).toEqual({ resize: { width: 1920, height: 1080 } });
});

test("one side follows the aspect ratio, for every fit", () => {
  for (const fit of ["cover", "contain", "fill", "inside", "outside"] as Fit[]) {
    expect(p(1920, 1080, fit, 300)).toEqual({ resize: { width: 300, height: 169 } });
    expect(p(1920, 1080, fit, undefined, 100)).toEqual({ resize: { width: 178, height: 100 } });
  }
});

test("each fit with a box", () => {
  expect(p(1920, 1080, "cover", 200, 200)).toEqual({
    resize: { width: 356, height: 200 },
    box: { width: 200, height: 200 },
  });
  expect(p(1920, 1080, "contain", 200, 200)).toEqual({
    resize: { width: 200, height: 113 },
    box: { width: 200, height: 200 },
  });
  expect(p(1920, 1080, "inside", 200, 200)).toEqual({ resize: { width: 200, height: 113 } });
  expect(p(1920, 1080, "outside", 200, 200)).toEqual({ resize: { width: 356, height: 200 } });
  expect(p(1920, 1080, "fill", 200, 50)).toEqual({ resize: { width: 200, height: 50 } });
});

test("enlarge: false never upsizes, and cover/contain keep the box's shape", () => {
  expect(p(600, 450, "inside", 1200, 1200)).toEqual({ resize: { width: 600, height: 450 } });
  expect(p(600, 450, "outside", 1200, 1200)).toEqual({ resize: { width: 600, height: 450 } });
  expect(p(600, 450, "fill", 1200, 300)).toEqual({ resize: { width: 600, height: 300 } });
  expect(p(600, 450, "cover", 800, 800)).toEqual({
    resize: { width: 600, height: 450 },
    box: { width: 450, height: 450 },
  });
  expect(p(600, 450, "contain", 800, 800)).toEqual({
    resize: { width: 600, height: 450 },
    box: { width: 600, height: 600 },
  });
  expect(p(600, 450, "cover", 1200)).toEqual({ resize: { width: 600, height: 450 } });
  // …and enlarge: true does.
  expect(p(600, 450, "cover", 800, 800, true)).toEqual({
    resize: { width: 1067, height: 800 },
    box: { width: 800, height: 800 },
  });
  expect(p(600, 450, "inside", 1200, 1200, true)).toEqual({ resize: { width: 1200, height: 900 } });
});

test("shrink-on-load: the largest power of two that stays at or above the target", () => {
  expect(shrinkOnLoad(4000, 3000, { width: 800, height: 600 })).toBe(4);
  expect(shrinkOnLoad(4000, 3000, { width: 1000, height: 750 })).toBe(4);
  expect(shrinkOnLoad(4000, 3000, { width: 1001, height: 751 })).toBe(2);
  expect(shrinkOnLoad(4000, 3000, { width: 100, height: 75 })).toBe(8);
  expect(shrinkOnLoad(4000, 3000, { width: 4000, height: 3000 })).toBe(1);
  // The larger ratio decides (cover resizes past the box on one axis).
  expect(shrinkOnLoad(4000, 1000, { width: 800, height: 500 })).toBe(2);
});

test("min width/height scale the whole result up, whatever enlarge says", () => {
  expect(plan(1920, 1080, { fit: "inside", width: 100, enlarge: false, minWidth: 400 })).toEqual({
    resize: { width: 400, height: 225 },
  });
  // A cover box grows with the resize, keeping its shape.
  expect(plan(1920, 1080, { fit: "cover", width: 100, height: 100, enlarge: false, minHeight: 300 })).toEqual({
    resize: { width: 533, height: 300 },
    box: { width: 300, height: 300 },
  });
  // Already large enough: unchanged.
  expect(plan(1920, 1080, { fit: "inside", width: 800, enlarge: false, minWidth: 400 })).toEqual(
    plan(1920, 1080, { fit: "inside", width: 800, enlarge: false }),
  );
});
