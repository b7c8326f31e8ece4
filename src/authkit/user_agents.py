"""
What a stored User-Agent says, for people: the browser and its major version, the
operating system, and whether it is a phone or tablet. Parsed by ua-parser (the
uap-core rules, updated monthly in ua-parser-builtins), never by patterns of our own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

__all__ = ["UserAgentSummary", "describe_user_agent"]

#: uap-core names a browser's mobile build apart; people know it by the browser's name.
_BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome WebView",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
}
_OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
#: Families of phones and tablets; every other system gets the desktop icon.
_MOBILE_OS = frozenset(
    {"iOS", "iPadOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "HarmonyOS"}
)
_MOBILE_DEVICES = frozenset({"iPhone", "iPad", "iPod", "Generic Smartphone", "Generic Tablet"})


@dataclass(frozen=True, slots=True)
class UserAgentSummary:
    """A User-Agent as shown in the profile: None where the string does not say."""

    #: "Chrome 131"
    browser: str | None
    #: "macOS". No version: browsers freeze it (every Mac says 10.15.7, Windows 11 says 10).
    os: str | None
    is_mobile: bool


@lru_cache(maxsize=1024)
def describe_user_agent(user_agent: str) -> UserAgentSummary:
    """
    The browser, system and kind of device a User-Agent names. Cached: the profile
    renders one per device and event on every view, and a user has only a few.
    """
    result = parse(user_agent) if user_agent.strip() else None
    if result is None:
        return UserAgentSummary(None, None, False)
    browser = None
    if result.user_agent is not None:
        name = _BROWSER_NAMES.get(result.user_agent.family, result.user_agent.family)
        major = result.user_agent.major
        browser = f"{name} {major}" if major else name
    os_family = result.os.family if result.os is not None else None
    device_family = result.device.family if result.device is not None else None
    return UserAgentSummary(
        browser=browser,
        os=_OS_NAMES.get(os_family, os_family) if os_family else None,
        is_mobile=os_family in _MOBILE_OS or device_family in _MOBILE_DEVICES,
    )
