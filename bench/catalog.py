"""The fixed vocabulary of the generated dataset: names, places, sources, tags, assets."""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Ann Ben Carla Dev Elena Farid Grace Hugo Ines Jonas Kira Liam Maya Noah Olga Pablo "
    "Quinn Rosa Sami Tara Uma Victor Wen Xavier Yara Zane Amir Bea Chen Dana Emil Fatima "
    "Gus Hana Ivan Jade Kofi Lena Marco Nadia Omar Priya Rahul Sofia Tomas Ursula Vera "
    "Will Ximena Yusuf Zoe Aiko Bruno Chloe Diego Eva Felix Gita Hassan Isla Jamal Kai "
    "Lucia Mateo Nora Oscar Paula Rafael Sara Theo Ugo Valentina Wanda Yuki"
)
LAST_NAMES = _words(
    "Lee Smith Garcia Muller Rossi Kim Nguyen Patel Cohen Silva Novak Jensen Dubois Kowalski "
    "Tanaka Okafor Hughes Schmidt Fischer Moreau Haddad Ivanova Larsen Costa Brown Khan "
    "Ortiz Wagner Weber Becker Romano Laurent Santos Jones Taylor Martin Chen Wang Singh "
    "Kumar Ali Ahmed Yilmaz Sato Suzuki Park Choi Nielsen Berg Lindqvist Horvat Popescu "
    "Murphy Walsh Byrne Fraser Reid Quinn Meyer Vogel Keller Baker Ward Price Rivera"
)
TITLES = (
    "Head of Sales",
    "VP Operations",
    "IT Manager",
    "CFO",
    "Procurement Lead",
    "Operations Manager",
    "Director of Marketing",
    "CTO",
    "Office Manager",
    "Founder",
    "Head of Customer Success",
    "Plant Manager",
)
COMPANY_WORDS = _words(
    "Northwind Contoso Globex Initech Umbrella Stark Wayne Acme Hooli Vandelay Wonka "
    "Soylent Cyberdyne Tyrell Gringotts Monarch Oscorp Dunder Pied Aperture Black Mesa "
    "Blue Sun Massive Dynamic Nakatomi Prestige Rekall Spacely Virtucon Zorg"
)
COMPANY_KINDS = _words(
    "Logistics Foods Systems Labs Health Energy Retail Capital Robotics Media Freight "
    "Analytics Textiles Pharma Builders Motors"
)

# (IANA zone, holiday country, share of reps in percent)
REP_ZONES = (
    ("America/New_York", "US", 25),
    ("America/Chicago", "US", 15),
    ("America/Denver", "US", 5),
    ("America/Los_Angeles", "US", 15),
    ("Europe/London", "GB", 10),
    ("Europe/Berlin", "DE", 10),
    ("Europe/Paris", "FR", 5),
    ("Asia/Kolkata", "IN", 5),
    ("Asia/Singapore", "SG", 4),
    ("Australia/Sydney", "AU", 4),
    ("America/Sao_Paulo", "BR", 2),
)

# (source, weight): where leads come from; inbound ones start the inbound cadence.
SOURCES = (
    ("web", 30),
    ("outbound_list", 25),
    ("trade_show", 15),
    ("referral", 10),
    ("webinar", 10),
    ("partner", 5),
    ("content_download", 5),
)
INBOUND_SOURCES = ("web", "webinar", "content_download", "referral")

TAGS = _words(
    "enterprise smb mid-market eu na apac latam webinar-2026 trade-show-berlin "
    "trade-show-vegas partner-led competitor-user renewal-risk champion budget-approved "
    "evaluating pilot hot-account newsletter event-invite security-review "
    "procurement-stage multi-site expansion"
)

ASSETS = (
    ("Case study: cutting churn by 30%", "case_study", "awareness"),
    ("Guide: follow-up cadences that work", "guide", "awareness"),
    ("Article: the fifth-touch rule", "article", "awareness"),
    ("Video: a tour in three minutes", "video", "awareness"),
    ("Webinar: building a sales floor", "webinar", "consideration"),
    ("Case study: a 40-rep team's first quarter", "case_study", "consideration"),
    ("Guide: choosing a sales-engagement tool", "guide", "consideration"),
    ("Article: speed to lead, measured", "article", "consideration"),
    ("ROI calculator", "calculator", "decision"),
    ("Case study: payback in 90 days", "case_study", "decision"),
    ("Guide: rolling out to 1,000 reps", "guide", "decision"),
    ("Article: security and compliance answers", "article", "decision"),
)

CALL_OUTCOMES = (("no_answer", 55), ("voicemail", 28), ("connected", 12), ("bad_number", 5))
CALL_NOTES = (
    "",
    "",
    "",
    "Left a short message, mentioned the guide.",
    "Gatekeeper: try after 2pm.",
    "Busy this week, asked to call next week.",
    "Interested in the pilot; wants pricing.",
)
