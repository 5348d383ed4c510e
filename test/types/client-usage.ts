// Compiled by `tsc --noEmit -p .` (npm run check), never run: the typed client accepts what
// imgd's document describes and refuses the rest. Each @ts-expect-error must stay an error.
import { createImgdClient } from "../../src/client/index.ts";

export async function usage() {
  const imgd = createImgdClient({ baseUrl: "http://localhost:3000", apiKey: "imgsrc_example" });
  const list = await imgd.GET("/api/v1/images", { params: { query: { limit: 10, sort: "oldest" } } });
  const first: string | undefined = list.data?.images[0]?.cdn_url;
  await imgd.upload(new Uint8Array(4), { target_path: "a", visibility: "private" });
  await imgd.PUT("/api/v1/images/{id}/visibility", { params: { path: { id: "x" } }, body: { visibility: "public" } });

  // @ts-expect-error: no such route
  await imgd.GET("/api/v1/imagez");
  // @ts-expect-error: sort is one of newest, oldest, name, size
  await imgd.GET("/api/v1/images", { params: { query: { sort: "biggest" } } });
  // @ts-expect-error: the image id is a required path parameter
  await imgd.GET("/api/v1/images/{id}", {});
  // @ts-expect-error: visibility is public or private
  await imgd.PUT("/api/v1/images/{id}/visibility", { params: { path: { id: "x" } }, body: { visibility: "hidden" } });
  // @ts-expect-error: a key's scopes are read and write
  await imgd.POST("/api/v1/settings/api-keys", { body: { name: "ci", scopes: ["admin"] } });
  // @ts-expect-error: upload fields are the document's (visibility is public or private)
  await imgd.upload(new Uint8Array(4), { visibility: "secret" });
  // @ts-expect-error: answers are typed too (the list has no `items`)
  list.data?.items;
  return first;
}
