// The builder ships no types: what the tests use of it.
declare module "thumbor-js-url-builder" {
  type Align = "left" | "center" | "right" | "top" | "middle" | "bottom";
  export default class Thumbor {
    constructor(securityKey: string | null, serverUrl: string);
    setImagePath(path: string): this;
    resize(width: number, height: number): this;
    fitIn(width: number, height: number): this;
    crop(left: number, top: number, right: number, bottom: number): this;
    smartCrop(smart: boolean): this;
    flipHorizontally(): this;
    flipVertically(): this;
    halign(a: Align): this;
    valign(a: Align): this;
    metaDataOnly(meta: boolean): this;
    filter(filters: string): this;
    buildUrl(): string;
  }
}
