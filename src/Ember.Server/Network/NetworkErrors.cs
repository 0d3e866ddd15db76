using System.Text.Json.Serialization;
using Ember.Server.Common;

namespace Ember.Server.Network;

/// <summary>
/// Neutron's errors: the exception class name goes into the body's "type" (clients and Tempest read it), the
/// message is Neutron's wording (neutron_lib/exceptions).
/// </summary>
public static class NetworkErrors
{
    private static ApiException Error(ErrorKind kind, string type, string message) => new(kind, message) { Type = type };

    public static ApiException BadRequest(string message) => Error(ErrorKind.BadRequest, "HTTPBadRequest", message);

    /// <summary>An attribute that fails validation (neutron's API layer): "Invalid input for cidr. Reason: ...".</summary>
    public static ApiException InvalidAttribute(string attribute, string reason) =>
        BadRequest($"Invalid input for {attribute}. Reason: {reason}.");

    public static ApiException InvalidInput(string message) => Error(ErrorKind.BadRequest, "InvalidInput", $"Invalid input for operation: {message}.");

    public static ApiException PolicyNotAuthorized(string action) => Error(ErrorKind.Forbidden, "PolicyNotAuthorized", $"({action}) is disallowed by policy.");

    public static ApiException NetworkNotFound(string id) => Error(ErrorKind.NotFound, "NetworkNotFound", $"Network {id} could not be found.");

    public static ApiException SubnetNotFound(string id) => Error(ErrorKind.NotFound, "SubnetNotFound", $"Subnet {id} could not be found.");

    public static ApiException AgentNotFound(string id) => Error(ErrorKind.NotFound, "AgentNotFound", $"Agent {id} could not be found.");

    public static ApiException PortNotFound(string id) => Error(ErrorKind.NotFound, "PortNotFound", $"Port {id} could not be found.");

    public static ApiException SecurityGroupNotFound(string id) => Error(ErrorKind.NotFound, "SecurityGroupNotFound", $"Security group {id} does not exist");

    public static ApiException SecurityGroupRuleNotFound(string id) => Error(ErrorKind.NotFound, "SecurityGroupRuleNotFound", $"Security group rule {id} does not exist");

    public static ApiException NetworkInUse(string id) => Error(ErrorKind.Conflict, "NetworkInUse",
        $"Unable to complete operation on network {id}. There are one or more ports still in use on the network.");

    public static ApiException SubnetInUse(string id) => Error(ErrorKind.Conflict, "SubnetInUse",
        $"Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet.");

    public static ApiException IpAddressAlreadyAllocated(string ip, string subnetId) => Error(ErrorKind.Conflict, "IpAddressAlreadyAllocated",
        $"IP address {ip} already allocated in subnet {subnetId}");

    public static ApiException IpAddressGenerationFailure(string networkId) => Error(ErrorKind.Conflict, "IpAddressGenerationFailure",
        $"No more IP addresses available on network {networkId}.");

    public static ApiException InvalidIpForSubnet(string ip) => Error(ErrorKind.BadRequest, "InvalidIpForSubnet",
        $"IP address {ip} is not a valid IP for the specified subnet.");

    public static ApiException MacAddressInUse(string networkId, string mac) => Error(ErrorKind.Conflict, "MacAddressInUse",
        $"Unable to complete operation for network {networkId}. The mac address {mac} is in use.");

    public static ApiException PortInUse(string networkId, string portId, string deviceId) => Error(ErrorKind.Conflict, "PortInUse",
        $"Unable to complete operation on port {portId} for network {networkId}. Port already has an attached device {deviceId}.");

    public static ApiException OverQuota(string resource) => Error(ErrorKind.Conflict, "OverQuota", $"Quota exceeded for resources: ['{resource}'].");

    public static ApiException SecurityGroupRuleExists(string id) => Error(ErrorKind.Conflict, "SecurityGroupRuleExists",
        $"Security group rule already exists. Rule id is {id}.");

    public static ApiException SecurityGroupInUse(string id) => Error(ErrorKind.Conflict, "SecurityGroupInUse", $"Security Group {id} in use.");

    public static ApiException CannotRemoveDefault() => Error(ErrorKind.Conflict, "SecurityGroupCannotRemoveDefault",
        "Insufficient rights for removing default security group.");

    public static ApiException OverlappingCidr(string cidr, string networkId) => InvalidInput(
        $"Requested subnet with cidr: {cidr} for network: {networkId} overlaps with another subnet");

    public static ApiException RouterNotFound(string id) => Error(ErrorKind.NotFound, "RouterNotFound", $"Router {id} could not be found");

    public static ApiException FloatingIpNotFound(string id) => Error(ErrorKind.NotFound, "FloatingIPNotFound", $"Floating IP {id} could not be found");

    /// <summary>Neutron's BadRequest(resource='router'): "Bad router request: ...".</summary>
    public static ApiException BadRouterRequest(string message) => Error(ErrorKind.BadRequest, "BadRequest", $"Bad router request: {message}.");

    public static ApiException BadFloatingIpRequest(string message) => Error(ErrorKind.BadRequest, "BadRequest", $"Bad floatingip request: {message}.");

    public static ApiException RouterInUse(string id, string reason) => Error(ErrorKind.Conflict, "RouterInUse", $"Router {id} {reason}");

    public static ApiException RouterInterfaceNotFound(string routerId, string portId) => Error(ErrorKind.NotFound, "RouterInterfaceNotFound",
        $"Router {routerId} does not have an interface with id {portId}");

    public static ApiException RouterInterfaceNotFoundForSubnet(string routerId, string subnetId) => Error(ErrorKind.NotFound, "RouterInterfaceNotFoundForSubnet",
        $"Router {routerId} has no interface on subnet {subnetId}");

    public static ApiException RouterInterfaceInUseByFloatingIp(string routerId, string subnetId) => Error(ErrorKind.Conflict, "RouterInterfaceInUseByFloatingIP",
        $"Router interface for subnet {subnetId} on router {routerId} cannot be deleted, as it is required by one or more floating IPs.");

    public static ApiException GatewayInUseByFloatingIp(string routerId, string networkId) => Error(ErrorKind.Conflict, "RouterExternalGatewayInUseByFloatingIp",
        $"Gateway cannot be updated for router {routerId}, since a gateway to external network {networkId} is required by one or more floating IPs.");

    public static ApiException ExternalNotReachable(string networkId, string subnetId, string portId) => Error(ErrorKind.NotFound, "ExternalGatewayForFloatingIPNotFound",
        $"External network {networkId} is not reachable from subnet {subnetId}.  Therefore, cannot associate Port {portId} with a Floating IP.");

    public static ApiException FloatingIpPortAlreadyAssociated(string floatingIpId, string address, string portId, string fixedIp, string networkId) => Error(
        ErrorKind.Conflict, "FloatingIPPortAlreadyAssociated",
        $"Cannot associate floating IP {address} ({floatingIpId}) with port {portId} using fixed IP {fixedIp}, as that fixed IP already has a floating IP on external network {networkId}.");

    public static ApiException ServicePortInUse(string portId, string owner) => Error(ErrorKind.Conflict, "ServicePortInUse",
        $"Port {portId} cannot be deleted directly via the port API: has device owner {owner}.");

    public static ApiException GatewayConflict(string gateway, string pool) => Error(ErrorKind.Conflict, "GatewayConflictWithAllocationPools",
        $"Gateway ip {gateway} conflicts with allocation pool {pool}.");
}

/// <summary>What the stored JSON columns hold (snake_case as on the wire).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(List<PoolText>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(List<HostRouteText>))]
[JsonSerializable(typeof(List<AddressPairText>))]
internal sealed partial class NetworkStoredJson : JsonSerializerContext;
