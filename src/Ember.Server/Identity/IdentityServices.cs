using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Identity;

public static class IdentityServices
{
    public static IServiceCollection AddIdentityServices(this IServiceCollection services) => services
        .AddSingleton(TimeProvider.System) // lock-out durations; tests move it by hand
        .AddSingleton<IdentityStore>()
        .AddSingleton<TokenService>()
        .AddSingleton<IdentityService>()
        .AddSingleton<LoginGuard>()
        .AddSingleton<IdentityBootstrap>();
}
