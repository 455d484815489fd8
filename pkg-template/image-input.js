// Every kind of image `ImageEmbedder` takes, turned into the `{ data, width, height,
// channels }` pixels the wasm module reads: ImageData and raw pixel objects as they
// are; Blobs, Files and URLs decoded by the browser (createImageBitmap); bitmaps,
// <img>, canvases and video frames drawn onto an OffscreenCanvas and read back. Runs in
// pages and workers; anything that cannot be read is an `invalid_image` error.

const DECODE = { premultiplyAlpha: 'none', colorSpaceConversion: 'none' };

const has = (name) => typeof globalThis[name] === 'function';
const is = (x, name) => has(name) && x instanceof globalThis[name];

function drawn(source, width, height, what, codeError) {
  if (!(width > 0 && height > 0)) {
    throw codeError('invalid_image', `${what} has no pixels (${width} × ${height}; a closed ImageBitmap or an unloaded image?)`);
  }
  if (!has('OffscreenCanvas')) {
    throw codeError('invalid_image', `${what}: this environment cannot draw images (no OffscreenCanvas); pass { data, width, height, channels }`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  try {
    ctx.drawImage(source, 0, 0, width, height);
    const img = ctx.getImageData(0, 0, width, height);
    return { data: img.data, width, height, channels: 4 };
  } catch (e) {
    throw codeError('invalid_image', `${what} cannot be read: ${e?.message ?? e}`);
  }
}

async function decoded(blob, what, codeError) {
  if (!has('createImageBitmap')) {
    throw codeError('invalid_image', `${what}: this environment has no image decoder (createImageBitmap); pass { data, width, height, channels }`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, DECODE);
  } catch (e) {
    throw codeError('invalid_image', `${what} cannot be decoded as an image (${blob.type || 'no type'}, ${blob.size} bytes): ${e?.message ?? e}`);
  }
  try {
    return drawn(bitmap, bitmap.width, bitmap.height, what, codeError);
  } finally {
    bitmap.close();
  }
}

/** `image` as `{ data, width, height, channels }`; `what` names it in errors. */
export async function toPixels(image, what, codeError) {
  if (image == null || (typeof image !== 'object' && typeof image !== 'string')) {
    throw codeError('invalid_image', `${what} is ${image === null ? 'null' : typeof image}, not an image`);
  }
  if (typeof image === 'string') {
    let response;
    try {
      response = await fetch(image);
    } catch (e) {
      throw codeError('fetch_failed', `fetch failed for ${image}: ${e?.message ?? e}`);
    }
    if (!response.ok) throw codeError('fetch_failed', `fetch failed for ${image}: HTTP ${response.status} ${response.statusText}`);
    return decoded(await response.blob(), `${what} (${image})`, codeError);
  }
  if (is(image, 'ImageData')) return { data: image.data, width: image.width, height: image.height, channels: 4 };
  if (is(image, 'Blob')) return decoded(image, what, codeError);
  if (is(image, 'ImageBitmap')) return drawn(image, image.width, image.height, what, codeError);
  if (is(image, 'HTMLImageElement')) {
    if (!image.complete || image.naturalWidth === 0) {
      try {
        await image.decode();
      } catch (e) {
        throw codeError('invalid_image', `${what} (<img src="${image.src}">) did not load: ${e?.message ?? e}`);
      }
    }
    return drawn(image, image.naturalWidth, image.naturalHeight, what, codeError);
  }
  if (is(image, 'HTMLCanvasElement') || is(image, 'OffscreenCanvas')) return drawn(image, image.width, image.height, what, codeError);
  if (is(image, 'VideoFrame')) return drawn(image, image.displayWidth, image.displayHeight, what, codeError);
  if (is(image, 'HTMLVideoElement')) return drawn(image, image.videoWidth, image.videoHeight, what, codeError);
  if ('data' in image && 'width' in image && 'height' in image) {
    return { data: image.data, width: image.width, height: image.height, channels: image.channels };
  }
  throw codeError('invalid_image', `${what} is not an image (ImageData, ImageBitmap, an image element, a canvas, a VideoFrame, a Blob, a URL or { data, width, height, channels })`);
}

/** Every image of `images` as pixels. */
export async function allPixels(images, op, codeError) {
  if (!Array.isArray(images)) throw codeError('invalid_argument', `${op}: images must be an array of images`);
  return Promise.all(images.map((im, i) => toPixels(im, `images[${i}]`, codeError)));
}
