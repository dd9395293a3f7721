//! Controls that several packs map rules to, defined once.

use super::{Control, Standard};

/// Soc2 CC6.1: Logical access security.
pub const SOC2_CC6_1: Control = Control::new(Standard::Soc2, "CC6.1", "Logical access security");
/// Soc2 CC6.6: Boundary protection against threats from outside.
pub const SOC2_CC6_6: Control = Control::new(
    Standard::Soc2,
    "CC6.6",
    "Boundary protection against threats from outside",
);
/// Soc2 CC7.1: Detection of configuration changes and vulnerabilities.
pub const SOC2_CC7_1: Control = Control::new(
    Standard::Soc2,
    "CC7.1",
    "Detection of configuration changes and vulnerabilities",
);
/// Soc2 A1.2: Recovery infrastructure and backups.
pub const SOC2_A1_2: Control = Control::new(
    Standard::Soc2,
    "A1.2",
    "Recovery infrastructure and backups",
);
/// Soc2 CC8.1: Change management.
pub const SOC2_CC8_1: Control = Control::new(Standard::Soc2, "CC8.1", "Change management");
/// Hipaa 164.312(a)(1): Access control.
pub const HIPAA_ACCESS: Control = Control::new(Standard::Hipaa, "164.312(a)(1)", "Access control");
/// Hipaa 164.312(c)(1): Integrity.
pub const HIPAA_INTEGRITY: Control = Control::new(Standard::Hipaa, "164.312(c)(1)", "Integrity");
/// Gdpr Art. 32(1)(b): Confidentiality of processing systems.
pub const GDPR_32_1_B: Control = Control::new(
    Standard::Gdpr,
    "Art. 32(1)(b)",
    "Confidentiality of processing systems",
);
/// PciDss 1.4.1: Controls between trusted and untrusted networks.
pub const PCI_1_4_1: Control = Control::new(
    Standard::PciDss,
    "1.4.1",
    "Controls between trusted and untrusted networks",
);
