//! Tests of the quota conversions: the proto enums decode by the one
//! mapping that encodes them, so a proto value missing from the tables
//! shows here.

use super::*;

#[test]
fn every_known_kind_and_period_decodes_to_what_encodes_it() {
    for value in -1..16 {
        match pb::QuotaKind::try_from(value) {
            Ok(pb::QuotaKind::Unspecified) | Err(_) => assert_eq!(kind_from(value), None),
            Ok(known) => assert_eq!(kind_from(value).map(kind_to), Some(known)),
        }
        match pb::QuotaPeriod::try_from(value) {
            Ok(pb::QuotaPeriod::Unspecified) | Err(_) => assert_eq!(period_from(value), None),
            Ok(known) => assert_eq!(period_to(period_from(value)), known),
        }
    }
}
