import * as v from "valibot";
import * as r from "../native/responses.ts";
import type { Answer, Op } from "./describe.ts";

// The URL shapes other tools write (src/http/compat.ts, imgproxy.ts, thumbor.ts), each parsed
// into the one delivery pipeline: IPX, Cloudflare Images, Next.js's image optimizer, imgproxy and
// thumbor. Their sources are read by the one source resolver. Public images, or the owner's own
// with its key: a private image needs a signed native URL otherwise.

const error: Answer = { description: "An error, in the native envelope (400 names the option)", json: r.NativeError };

const image: Answer = {
  description: "The image",
  media: "image/*",
  headers: {
    ETag: "The variant's tag",
    "Cache-Control": "public, max-age=31536000, immutable",
    Vary: "Accept, when the format was negotiated",
    "X-Cache": "HIT, MISS or ORIGINAL",
  },
};

const answers = (method: "get" | "head"): Op["responses"] => ({
  200: method === "get" ? image : { description: "The image's headers" },
  304: { description: "Not modified (If-None-Match)" },
  default: method === "get" ? error : { description: "An error (no body)" },
});

const tenantPath = {
  username:
    "The owner's username, or `i` followed by it (imgd's own /i/ URLs); or the whole source is an absolute URL on imgd's own host",
  path: "The image's path (its extension does not pick the format here)",
};

const IMGPROXY_PATH =
  "{signature}/{options}/plain/{source}[@ext] or {signature}/{options}/{base64url source}[.ext]. The signature is " +
  "imgproxy's (HMAC-SHA256 with IMGD_IMGPROXY_KEY over IMGD_IMGPROXY_SALT and the path after it, url-safe base64), " +
  "or insecure where IMGD_IMGPROXY_INSECURE allows it; a wrong or missing one is a 403. Options: rs/resize, s/size, " +
  "rt/resizing_type (fit, fill, fill-down, force), w/width, h/height, el/enlarge, ex/extend (centre), g/gravity " +
  "(compass, sm, fp:x:y), c/crop, q/quality, f/format/ext or @ext, bl/blur, sh/sharpen, dpr, pd/padding, " +
  "bg/background, rot/rotate, fl/flip, pr/preset (the tenant's presets), sm/strip_metadata, mw, mh, cb/cachebuster " +
  "(ignored); any other is a 400 naming it. The source is local:///{username}/{path} or a URL on imgd's own host.";

const CLOUDINARY_PATH =
  "{transformations}/[v{version}/]{public_id}[.ext]: comma-separated key_value components, chained with /. " +
  "w_, h_, c_ (scale (default), fill, lfill, fit, limit, pad, lpad, thumb, crop: a region cut first), g_ (auto, " +
  "center, compass names), q_ (1..100 or auto), f_ (auto negotiates; webp, avif, jpg, png, gif, tiff; wins over the " +
  "extension), dpr_, e_blur[:strength], e_grayscale, a_ (degrees, hflip, vflip), b_ (rgb:RRGGBB or a colour name), " +
  "t_ (the tenant's presets). One resize per URL; r_ and other keys are a 400 naming them. The query (_a) is ignored.";

const THUMBOR_PATH =
  "{hmac|unsafe}/[AxB:CxD/][fit-in/][-]Ex[-]F/[halign/][valign/][smart/][filters:…/]{image}. The HMAC is thumbor's " +
  "(HMAC-SHA1 with IMGD_THUMBOR_KEY over the path after it, url-safe base64); unsafe only where IMGD_THUMBOR_UNSAFE " +
  "allows it; a wrong or missing one is a 403. Filters: format, quality, blur, grayscale, fill (a hex colour, with " +
  "fit-in), rotate (multiples of 90), no_upscale, upscale, strip_exif, strip_icc; trim, meta, orig and other filters " +
  "are a 400. The image is i/{username}/{path} or a URL on imgd's own host.";

const IPX_MODIFIERS =
  "IPX 3's modifiers, separated by , or &, a name and its arguments by _, : or =; _ alone for none. " +
  "w_/width_, h_/height_, s_WxH/resize_ (with fit_: cover (default), contain, fill, inside, outside; " +
  "pos_/position_: top, right top, …, north, attention, entropy; b_/background_), f_/format_ (auto negotiates; " +
  "webp, avif, jpeg, png, gif, tiff; none keeps the source's format), q_/quality_, enlarge, kernel_, " +
  "extract_L_T_W_H/crop_, extend_T_R_B_L, rotate_, flip, flop, sharpen_, blur_, negate, normalize, grayscale, " +
  "modulate_B_S_H, animated/a. trim, median, gamma, threshold, tint and flatten are a 400. Without enlarge, never enlarges.";

const CLOUDFLARE_OPTIONS =
  "Cloudflare's key=value options, comma-separated: width/w, height/h, dpr, quality/q, fit (scale-down (default), " +
  "contain, cover, crop, pad, squeeze), gravity/g (auto: smart crop, left, right, top, bottom, center), format/f " +
  "(auto negotiates; avif, webp, jpeg, baseline-jpeg, png; none keeps the source's), background, rotate (90, 180, 270), " +
  "flip (h, v, hv), blur (1..250), sharpen (0..10), brightness, contrast, saturation, metadata (keep, copyright, none), " +
  "anim; onerror and compression are accepted and change nothing. format=json, trim, gamma, border, segment and zoom are a 400.";

const NextQuery = v.object({
  url: v.pipe(
    v.string(),
    v.description("The image: /{username}/{path}, /i/{username}/{path}, or an absolute URL on imgd's own host"),
  ),
  w: v.pipe(v.string(), v.description("Width in pixels, as next/image writes it")),
  q: v.optional(v.pipe(v.string(), v.description("Quality 1..100")), "75"),
});

const shapes = (method: "get" | "head"): Op[] => {
  const head = method === "head";
  return [
    {
      method,
      path: "/_ipx/{modifiers}/{username}/{path}",
      route: "/_ipx/:modifiers/*",
      tag: "compatible",
      operationId: head ? "ipxImageHead" : "ipxImage",
      summary: head ? "IPX URL: headers only" : "Deliver an image from an IPX URL (Nuxt Image, unpic)",
      ...(head
        ? {}
        : { description: "Nuxt Image's ipx provider, or unpic's, with its baseURL ending in /_ipx works unchanged." }),
      params: { modifiers: IPX_MODIFIERS, ...tenantPath },
      responses: answers(method),
    },
    {
      method,
      path: "/cdn-cgi/image/{options}/{username}/{path}",
      route: "/cdn-cgi/image/:options/*",
      tag: "compatible",
      operationId: head ? "cloudflareImageHead" : "cloudflareImage",
      summary: head ? "Cloudflare Images URL: headers only" : "Deliver an image from a Cloudflare Images URL",
      ...(head
        ? {}
        : { description: "Nuxt Image's cloudflare provider with the server as its baseURL works unchanged." }),
      params: { options: CLOUDFLARE_OPTIONS, ...tenantPath },
      responses: answers(method),
    },
    {
      method,
      path: "/_next/image",
      tag: "compatible",
      operationId: head ? "nextImageHead" : "nextImage",
      summary: head ? "Next.js image URL: headers only" : "Deliver an image from Next.js's image optimizer URL",
      ...(head
        ? {}
        : {
            description:
              "next/image's default loader pointed at imgd. The format is negotiated from Accept, as Next's optimizer does; " +
              "any other parameter, or one given twice, is a 400. imgd does not fetch other hosts here.",
          }),
      query: NextQuery,
      responses: answers(method),
    },
    {
      method,
      path: "/imgproxy/{path}",
      route: "/imgproxy/*",
      tag: "compatible",
      operationId: head ? "imgproxyImageHead" : "imgproxyImage",
      summary: head ? "imgproxy URL: headers only" : "Deliver an image from an imgproxy URL",
      ...(head
        ? {}
        : {
            description:
              "URLs made by @imgproxy/imgproxy-node for an endpoint ending in /imgproxy work unchanged (IMGD_IMGPROXY).",
          }),
      params: { path: IMGPROXY_PATH },
      responses: answers(method),
    },
    {
      method,
      path: "/thumbor/{path}",
      route: "/thumbor/*",
      tag: "compatible",
      operationId: head ? "thumborImageHead" : "thumborImage",
      summary: head ? "thumbor URL: headers only" : "Deliver an image from a thumbor URL",
      ...(head
        ? {}
        : {
            description:
              "URLs made by thumbor's URL builders for a server URL ending in /thumbor work unchanged (IMGD_THUMBOR).",
          }),
      params: { path: THUMBOR_PATH },
      responses: answers(method),
    },
    {
      method,
      path: "/{cloud}/image/upload/{path}",
      route: "/:cloud/image/upload/*",
      tag: "compatible",
      operationId: head ? "cloudinaryImageHead" : "cloudinaryImage",
      summary: head ? "Cloudinary URL: headers only" : "Deliver an image from a Cloudinary delivery URL",
      ...(head
        ? {}
        : {
            description:
              "URLs made by @cloudinary/url-gen with the server as its secure distribution work unchanged (IMGD_CLOUDINARY=on; off: 404).",
          }),
      params: { cloud: "The owner's username (Cloudinary's cloud name)", path: CLOUDINARY_PATH },
      responses: answers(method),
    },
  ];
};

export const compatOps: Op[] = [...shapes("get"), ...shapes("head")];
