"""Code tables printed on the card: sex (GB/T 2261.1) and nation (GB/T 3304, 01..56 plus 97/98),
and the ID number's check character (GB 11643, ISO 7064 MOD 11-2)."""

from __future__ import annotations

from enum import Enum

from devices.idcard.errors import IdCardRecordError

# GB/T 3304-1991 order, checked against HslCommunication's SAMSerial.GetNationText and
# langx-java's ChinaEthnic (codes 01..56).
_NATION_NAMES = (
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
)
assert len(_NATION_NAMES) == 56

NATIONS: dict[str, str] = {f"{i:02d}": name for i, name in enumerate(_NATION_NAMES, start=1)}
NATIONS["97"] = "其他"
NATIONS["98"] = "外国血统中国籍人士"


def nation_name(code: str) -> str | None:
    """The nation's name (without 族) for a two-digit code, None for an unknown code."""
    return NATIONS.get(code)


class Sex(Enum):
    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    UNSPECIFIED = "9"

    @property
    def label(self) -> str:
        return {"0": "未知", "1": "男", "2": "女", "9": "未说明"}[self.value]


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


def id_check_char(first17: str) -> str:
    """The 18th character of a resident ID number for its first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise IdCardRecordError("an ID number check needs exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_valid_id_number(number: str) -> bool:
    """Whether an 18-character ID number has the right shape and check character."""
    n = number.strip().upper()
    if len(n) != 18 or not n[:17].isascii() or not n[:17].isdigit():
        return False
    return id_check_char(n[:17]) == n[17]
