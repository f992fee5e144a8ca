//! Writes a 10×4 grid of generated samples (image above its mask) to the given PNG path.
fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "synthetic_grid.png".into());
    let (size, cols, rows) = (64u32, 10u32, 4u32);
    let mut grid = image::RgbImage::new(cols * size, rows * 2 * size);
    for i in 0..cols * rows {
        let s = faithbench_data::synthetic::generate(0, i as u64, size);
        let (ox, oy) = ((i % cols) * size, (i / cols) * 2 * size);
        for y in 0..size {
            for x in 0..size {
                grid.put_pixel(ox + x, oy + y, *s.image.get_pixel(x, y));
                let m = s.mask[(y * size + x) as usize] * 255;
                grid.put_pixel(ox + x, oy + size + y, image::Rgb([m, m, m]));
            }
        }
    }
    if let Err(e) = grid.save(&out) {
        eprintln!("{out}: {e}");
        std::process::exit(1);
    }
}
