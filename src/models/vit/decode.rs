//! Decoding an encoded image (PNG, JPEG, GIF, WebP, BMP) into 8-bit pixels with the
//! `image` crate, for places without the browser's decoder: native code, and Node.

use super::preprocess::Pixels;
use crate::error::{Error, Result};
use image::DynamicImage;

/// Decoded pixels, owned.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub data: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

impl Decoded {
    pub fn pixels(&self) -> Pixels<'_> {
        Pixels { data: &self.data, width: self.width, height: self.height, channels: self.channels }
    }
}

/// Decodes `bytes`; anything unreadable is `invalid_image` saying why. Gray stays gray
/// (one channel) and alpha is kept, so preprocessing sees what Pillow would; deeper
/// samples are reduced to 8 bits.
pub fn decode(bytes: &[u8]) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::InvalidImage("the image is empty (0 bytes)".into()));
    }
    let img = image::load_from_memory(bytes).map_err(|e| Error::InvalidImage(format!("cannot decode it: {e}")))?;
    let (width, height) = (img.width() as usize, img.height() as usize);
    let (data, channels) = match img {
        DynamicImage::ImageLuma8(i) => (i.into_raw(), 1),
        DynamicImage::ImageLumaA8(i) => (i.into_raw(), 2),
        DynamicImage::ImageRgb8(i) => (i.into_raw(), 3),
        DynamicImage::ImageRgba8(i) => (i.into_raw(), 4),
        other if other.color().has_alpha() => (other.to_rgba8().into_raw(), 4),
        other if other.color().has_color() => (other.to_rgb8().into_raw(), 3),
        other => (other.to_luma8().into_raw(), 1),
    };
    Ok(Decoded { data, width, height, channels })
}
