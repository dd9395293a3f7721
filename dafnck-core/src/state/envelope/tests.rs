use super::*;

#[test]
fn crc32_is_zlibs() {
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
}

#[test]
fn every_bit_flip_truncation_and_appended_byte_is_refused() {
    let body = br#"{"stack":"dev","lineage":"l","serial":3,"resources":{}}"#;
    let unit = encode(Unit::State, body);
    // Every byte is covered, the header's kind and format digit too.
    for i in 0..unit.len() {
        for bit in 0..8 {
            let mut d = unit.clone();
            d[i] ^= 1 << bit;
            assert!(
                decode(Unit::State, &d, "u").is_err(),
                "byte {i} bit {bit} accepted"
            );
        }
    }
    for n in 0..unit.len() {
        assert!(decode(Unit::State, &unit[..n], "u").is_err(), "cut at {n}");
    }
    let mut longer = unit.clone();
    longer.push(b'\n');
    assert!(decode(Unit::State, &longer, "u").is_err());
    assert_eq!(decode(Unit::State, &unit, "u").unwrap().body, body);
}

#[test]
fn a_format_named_older_by_damage_is_refused_and_real_older_units_still_read() {
    let body = br#"{"stack":"dev"}"#;
    let unit = encode(Unit::State, body);
    let digit = "dafnck-state/".len();
    for older in [b'2', b'3'] {
        let mut d = unit.clone();
        d[digit] = older;
        let err = decode(Unit::State, &d, "u").unwrap_err().to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
        assert!(check_stream(Unit::State, &d[..], "u").is_err());
    }
    // What formats 2 and 3 wrote: the checksum of the body alone.
    for older in [2, 3] {
        let old = format!(
            "dafnck-state/{older} crc32={:08x} len={}\n",
            crc32(body),
            body.len()
        );
        let mut d = old.into_bytes();
        d.extend_from_slice(body);
        assert_eq!(
            decode(Unit::State, &d, "u").unwrap(),
            Opened {
                format: older,
                body
            }
        );
        assert_eq!(check_stream(Unit::State, &d[..], "u").unwrap(), older);
    }
}

#[test]
fn a_header_written_after_a_streamed_body_matches_encode() {
    let body = br#"{"stack":"dev","serial":7}"#;
    let mut summing = Summing::new(Vec::new());
    std::io::Write::write_all(&mut summing, body).unwrap();
    let (written, crc, len) = summing.finish();
    let mut unit = header_of(Unit::Plan, crc, len).into_bytes();
    unit.extend_from_slice(&written);
    assert_eq!(unit, encode(Unit::Plan, body));
}

#[test]
fn a_streamed_check_refuses_what_decode_refuses_with_the_same_message() {
    let body = br#"{"stack":"dev","lineage":"l","serial":3,"resources":{}}"#;
    let unit = encode(Unit::State, body);
    let same = |d: &[u8], what: &str| {
        let whole = decode(Unit::State, d, "u").map(|o| o.format);
        let streamed = check_stream(Unit::State, d, "u");
        match (&whole, &streamed) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
            _ => panic!("{what}: decode {whole:?}, streamed {streamed:?}"),
        }
    };
    for i in 0..unit.len() {
        for bit in 0..8 {
            let mut d = unit.clone();
            d[i] ^= 1 << bit;
            same(&d, &format!("byte {i} bit {bit}"));
        }
    }
    for n in 0..unit.len() {
        same(&unit[..n], &format!("cut at {n}"));
    }
    let mut longer = unit.clone();
    longer.push(b'\n');
    same(&longer, "appended");
    assert_eq!(check_stream(Unit::State, &unit[..], "u").unwrap(), FORMAT);
    assert_eq!(check_stream(Unit::State, &body[..], "u").unwrap(), 1);
    let newer = String::from_utf8(unit.clone()).unwrap().replacen(
        &format!("/{FORMAT} "),
        &format!("/{} ", FORMAT + 1),
        1,
    );
    assert!(matches!(
        check_stream(Unit::State, newer.as_bytes(), "u"),
        Err(StateError::NewerFormat { found, .. }) if found == FORMAT + 1
    ));
}

#[test]
fn format_1_is_read_and_a_newer_format_is_refused_by_name() {
    let old = br#"{"stack":"dev"}"#;
    assert_eq!(
        decode(Unit::State, old, "u").unwrap(),
        Opened {
            format: 1,
            body: old
        }
    );
    let newer = b"dafnck-state/7 crc32=00000000 len=0 zstd\n";
    let err = decode(Unit::State, newer, "s/snapshot.json").unwrap_err();
    assert!(
        matches!(
            err,
            StateError::NewerFormat {
                found: 7,
                supported: FORMAT,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("s/snapshot.json")
            && text.contains("format 7")
            && text.contains(&format!("up to {FORMAT}")),
        "{text}"
    );
}

#[test]
fn a_readable_state_has_one_line_per_resource_and_reads_back() {
    use crate::state::ResourceState;
    use crate::value::Value;
    let mut state = State::empty("dev");
    state.serial = 3;
    for name in ["a", "b", "c"] {
        let inputs = Value::Map([("tags".to_owned(), Value::Map(Default::default()))].into());
        state.resources.insert(
            name.into(),
            ResourceState {
                name: name.into(),
                type_name: "fake:t:T".into(),
                id: format!("{name}-id"),
                inputs,
                outputs: Value::Null,
                dependencies: vec![],
                protect: false,
                retain_on_delete: false,
                location: None,
                provider: None,
            }
            .into(),
        );
    }
    let unit = encode_state(&state, true, "test").unwrap();
    let text = std::str::from_utf8(&unit).unwrap();
    for name in ["a", "b", "c"] {
        let line = format!("\n    \"{name}\": {{\"name\":\"{name}\",\"type\":\"fake:t:T\"");
        let at = text
            .find(&line)
            .unwrap_or_else(|| panic!("{line:?} in {text}"));
        let end = text[at + 1..].find('\n').unwrap() + at + 1;
        assert!(text[at..end].contains("\"tags\":{}"), "{text}");
    }
    assert!(text.ends_with("\n  }\n}\n"), "{text}");
    assert_eq!(decode_state(&unit, "u").unwrap(), state);
    let compact = encode_state(&state, false, "test").unwrap();
    assert_eq!(decode_state(&compact, "u").unwrap(), state);
    assert!(compact.len() < unit.len());
}

#[test]
fn a_hand_edit_of_a_format_2_state_reads_unchecked_and_a_newer_one_is_refused() {
    let body = br#"{"stack":"dev","lineage":"l","serial":3,"resources":{}}"#;
    let edited = [&b"dafnck-state/2 crc32=00000000 len=1\n"[..], body].concat();
    assert_eq!(decode_state_unchecked(&edited, "u").unwrap().serial, 3);
    let newer = format!("dafnck-state/{} crc32=00000000 len=1\n", FORMAT + 1);
    let newer = [newer.as_bytes(), body].concat();
    assert!(matches!(
        decode_state_unchecked(&newer, "u"),
        Err(StateError::NewerFormat { .. })
    ));
    let plan = [&b"dafnck-plan/3 crc32=00000000 len=1\n"[..], body].concat();
    assert!(matches!(
        decode_state_unchecked(&plan, "u"),
        Err(StateError::Damaged { .. })
    ));
}

#[test]
fn a_unit_of_another_kind_is_refused() {
    let plan = encode(Unit::Plan, b"{}");
    assert!(matches!(
        decode(Unit::State, &plan, "u"),
        Err(StateError::Damaged { .. })
    ));
}

#[test]
fn lines_round_trip_and_refuse_damage() {
    let line = encode_line(br#"{"seq":1}"#);
    assert_eq!(decode_line(&line).unwrap(), br#"{"seq":1}"#);
    assert_eq!(decode_line(br#"{"seq":1}"#).unwrap(), br#"{"seq":1}"#);
    let mut d = line.clone();
    d[12] ^= 4;
    assert!(decode_line(&d).is_err());
}
