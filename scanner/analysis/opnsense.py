"""OPNsense `config.xml` backups: firewall filter rules, port forwards, the default deny.

Both rule stores are read: the legacy `<filter><rule>` / `<nat><rule>` trees and the MVC
`<OPNsense><Firewall><Filter><rules><rule>` (and `<OPNsense><Firewall><DNat>`-style) stores. The XML is
parsed with defusedxml: DTDs, entity declarations and external references are refused, so an
entity-expansion bomb is an error, never a hang.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DET

from scanner.sources.readfile import UnreadableFile, read_regular

MAX_BYTES = 50 * 1024 * 1024


class OPNsenseError(Exception):
    pass


@dataclass(slots=True)
class Endpoint:
    """The source or destination of an OPNsense rule."""

    any: bool = False
    network: str | None = None
    address: str | None = None
    port: str | None = None
    negate: bool = False

    def describe(self) -> str:
        if self.any:
            base = "any"
        else:
            base = self.network or self.address or "?"
        if self.negate:
            base = "!" + base
        return base + (f":{self.port}" if self.port else "")


@dataclass(slots=True)
class FilterRule:
    """An OPNsense firewall filter rule."""

    action: str  # pass, block, reject
    interfaces: list
    source: Endpoint
    destination: Endpoint
    protocol: str | None
    enabled: bool
    direction: str
    floating: bool
    description: str
    store: str  # legacy or mvc
    index: int
    uuid: str | None = None

    def describe(self) -> str:
        return (f"{self.store} filter rule #{self.index}{' ' + self.uuid if self.uuid else ''} "
                f"{self.action} on {','.join(self.interfaces) or '-'} {self.protocol or 'any'} "
                f"from {self.source.describe()} to {self.destination.describe()}"
                + (f" ({self.description})" if self.description else ""))


@dataclass(slots=True)
class NatRule:
    """An OPNsense port-forward (NAT) rule."""

    interfaces: list
    protocol: str | None
    source: Endpoint
    destination: Endpoint
    target: str | None
    local_port: str | None
    enabled: bool
    description: str
    store: str
    index: int

    def describe(self) -> str:
        return (f"{self.store} port forward #{self.index} on {','.join(self.interfaces)} {self.protocol or 'any'} "
                f"{self.destination.describe()} -> {self.target}:{self.local_port or self.destination.port or '*'}"
                + (f" ({self.description})" if self.description else ""))


@dataclass
class OPNsenseConfig:
    """The parts of an OPNsense config.xml the perimeter checks read."""

    path: str
    filter_rules: list = field(default_factory=list)
    nat_rules: list = field(default_factory=list)
    aliases: dict = field(default_factory=dict)
    wan_interfaces: set = field(default_factory=set)
    filter_disabled: bool = False

    def port_forwards(self) -> list[NatRule]:
        return [n for n in self.nat_rules if n.enabled and self.on_wan(n.interfaces)]

    def on_wan(self, interfaces: list) -> bool:
        return any(i in self.wan_interfaces for i in interfaces)


def _text(el, tag: str) -> str | None:
    if el is None:
        return None
    c = el.find(tag)
    if c is None:
        return None
    return (c.text or "").strip()


def _flag(el, tag: str) -> bool:
    c = el.find(tag) if el is not None else None
    if c is None:
        return False
    t = (c.text or "").strip().lower()
    return t in ("", "1", "yes", "on", "true", "enabled")


def _endpoint(el) -> Endpoint:
    if el is None:
        return Endpoint(any=True)
    ep = Endpoint()
    ep.any = el.find("any") is not None and (el.find("any").text or "1").strip() not in ("0",)
    ep.network = _text(el, "network")
    ep.address = _text(el, "address")
    ep.port = _text(el, "port")
    ep.negate = el.find("not") is not None
    if not ep.network and not ep.address and el.find("any") is None:
        ep.any = True  # an empty <source/> is any
    return ep


def _mvc_endpoint(rule, side: str) -> Endpoint:
    net = _text(rule, f"{side}_net") or "any"
    port = _text(rule, f"{side}_port") or None
    neg = (_text(rule, f"{side}_not") or "0") == "1"
    return Endpoint(any=net.lower() == "any", network=None if net.lower() == "any" else net, port=port, negate=neg)


def load(path: str) -> OPNsenseConfig:
    try:
        data = read_regular(path, MAX_BYTES)  # a FIFO or /dev/zero given as the config never blocks
    except UnreadableFile as exc:
        raise OPNsenseError(f"cannot read OPNsense config {path}: {exc}") from None
    return parse(data, path)


def parse(data: bytes | str, path: str = "config.xml") -> OPNsenseConfig:
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise OPNsenseError(f"{path}: refused unsafe XML ({type(exc).__name__}: DTDs and entities are not allowed)") from None
    except DET.ParseError as exc:
        raise OPNsenseError(f"{path}: not valid XML: {exc}") from None
    if root.tag.lower() not in ("opnsense", "pfsense"):
        raise OPNsenseError(f"{path}: not an OPNsense config.xml (root element <{root.tag}>)")
    cfg = OPNsenseConfig(path=path)
    ifaces = root.find("interfaces")
    if ifaces is not None:
        for iface in ifaces:
            name = iface.tag
            descr = (_text(iface, "descr") or "").lower()
            gw = _text(iface, "gateway")
            if name == "wan" or descr == "wan" or descr.startswith("wan") or (_text(iface, "ipaddr") in ("dhcp", "pppoe") and name != "lan"):
                cfg.wan_interfaces.add(name)
    cfg.wan_interfaces.add("wan")
    system = root.find("system")
    if system is not None and system.find("disablefilter") is not None and (system.find("disablefilter").text or "enabled").strip() not in ("", "0"):
        cfg.filter_disabled = True
    # legacy rules
    flt = root.find("filter")
    if flt is not None:
        for i, r in enumerate(flt.findall("rule")):
            cfg.filter_rules.append(FilterRule(
                action=(_text(r, "type") or "pass").lower(),
                interfaces=[x.strip() for x in (_text(r, "interface") or "").split(",") if x.strip()],
                source=_endpoint(r.find("source")), destination=_endpoint(r.find("destination")),
                protocol=_text(r, "protocol") or None, enabled=not _flag(r, "disabled"),
                direction=(_text(r, "direction") or "in").lower(), floating=_flag(r, "floating"),
                description=_text(r, "descr") or "", store="legacy", index=i, uuid=r.get("uuid")))
    nat = root.find("nat")
    if nat is not None:
        for i, r in enumerate(nat.findall("rule")):
            cfg.nat_rules.append(NatRule(
                interfaces=[x.strip() for x in (_text(r, "interface") or "").split(",") if x.strip()],
                protocol=_text(r, "protocol") or None, source=_endpoint(r.find("source")),
                destination=_endpoint(r.find("destination")), target=_text(r, "target"),
                local_port=_text(r, "local-port"), enabled=not _flag(r, "disabled"),
                description=_text(r, "descr") or "", store="legacy", index=i))
    # MVC stores
    mvc = root.find("OPNsense")
    fw = mvc.find("Firewall") if mvc is not None else None
    if fw is not None:
        rules = fw.find("Filter/rules")
        for i, r in enumerate(rules.findall("rule") if rules is not None else []):
            cfg.filter_rules.append(FilterRule(
                action=(_text(r, "action") or "pass").lower(),
                interfaces=[x.strip() for x in (_text(r, "interface") or "").split(",") if x.strip()],
                source=_mvc_endpoint(r, "source"), destination=_mvc_endpoint(r, "destination"),
                protocol=(_text(r, "protocol") or "any"), enabled=(_text(r, "enabled") or "1") == "1",
                direction=(_text(r, "direction") or "in").lower(), floating=False,
                description=_text(r, "description") or "", store="mvc", index=i, uuid=r.get("uuid")))
        for store in ("DNat/rules", "Nat/rules", "DNAT/rules"):
            nrules = fw.find(store)
            for i, r in enumerate(nrules.findall("rule") if nrules is not None else []):
                cfg.nat_rules.append(NatRule(
                    interfaces=[x.strip() for x in (_text(r, "interface") or "").split(",") if x.strip()],
                    protocol=_text(r, "protocol"), source=_mvc_endpoint(r, "source"),
                    destination=_mvc_endpoint(r, "destination"), target=_text(r, "target"),
                    local_port=_text(r, "local_port") or _text(r, "local-port"),
                    enabled=(_text(r, "enabled") or "1") == "1" and not _flag(r, "disabled"),
                    description=_text(r, "description") or _text(r, "descr") or "", store="mvc", index=i))
        for a in fw.findall("Alias/aliases/alias"):
            name = _text(a, "name")
            if name:
                cfg.aliases[name] = [x for x in (_text(a, "content") or "").replace(",", "\n").split("\n") if x.strip()]
    return cfg


_ANY_NETS = {"any", "0.0.0.0/0", "::/0", "wanip", "(self)", "wan", "wanaddress"}


def _is_any(ep: Endpoint, cfg: OPNsenseConfig, *, dest: bool) -> bool:
    if ep.negate:
        return False
    if ep.port:
        return False
    if ep.any:
        return True
    for v in (ep.network, ep.address):
        if not v:
            continue
        vals = cfg.aliases.get(v, [v])
        if any(x.strip().lower() in ({"any", "0.0.0.0/0", "::/0"} | ({"wanip", "(self)", "wan", "wanaddress"} if dest else set()))
               for x in vals):
            return True
    return False


def wan_any_any(cfg: OPNsenseConfig) -> list[FilterRule]:
    out = []
    for r in cfg.filter_rules:
        if not r.enabled or r.action != "pass":
            continue
        if not (cfg.on_wan(r.interfaces) or (r.floating and (not r.interfaces or cfg.on_wan(r.interfaces)))):
            continue
        if r.direction not in ("in", "any", ""):
            continue
        if _is_any(r.source, cfg, dest=False) and _is_any(r.destination, cfg, dest=True):
            out.append(r)
    return out
