//! AdmissionReview v1 bodies as the webhook reads them: `parse_review` (size bound, JSON,
//! apiVersion/kind), then for an admitted kind the image sites of `object` (the typed
//! `PodSpec` at the kind's depth), the scale-down check against `oldObject`, and the split of
//! every image reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_admission::image::ImageRef;
use vouch_admission::review::parse_review;
use vouch_admission::workload::{WorkloadKind, image_sites, is_scale_down};

fuzz_target!(|data: &[u8]| {
    let Ok(req) = parse_review(data) else { return };
    let Some(kind) = WorkloadKind::from_group_kind(&req.kind.group, &req.kind.kind) else {
        return;
    };
    if let (Some(new), Some(old)) = (&req.object, &req.old_object) {
        let _ = is_scale_down(kind, &new.data, &old.data);
    }
    if let Some(obj) = &req.object
        && let Ok(sites) = image_sites(kind, &obj.data)
    {
        for s in sites {
            let r = ImageRef::parse(&s.image);
            let _ = r.pinned("sha256:00");
            let _ = r.by_digest("sha256:00");
            assert!(obj.data.pointer(s.pointer.as_str()).is_some());
        }
    }
});
