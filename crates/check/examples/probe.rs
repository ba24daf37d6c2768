// Temporary probe (to be removed).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
use std::time::Instant;
use lightcone_check::linear::{self, model_by_name, LinearOptions};
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = std::fs::read_to_string(&args[0]).unwrap();
    let (h, _) = lightcone_history::formats::read_auto(&text).unwrap();
    let model = model_by_name(args.get(1).map_or("kv", |s| s.as_str()), None).unwrap();
    let mut o = LinearOptions::default();
    o.parallel = false;
    o.all_witnesses = true;
    if let Some(d) = args.get(2) { o.depth_first_configs_max = Some(d.parse().unwrap()); }
    let t = Instant::now();
    let r = linear::check(&h, model.as_ref(), &o);
    println!("{} {:.1} ms", r.valid, t.elapsed().as_secs_f64() * 1e3);
    for p in &r.partitions {
        println!("{:?} {} {} configs {} held {} steps {}", p.key, p.valid, p.method.as_str(), p.configs, p.configs_held_max, p.steps);
    }
}
