using Microsoft.Extensions.DependencyInjection;

namespace Ember.Server.Identity;

public static class IdentityServices
{
    public static IServiceCollection AddIdentityServices(this IServiceCollection services) => services
        .AddSingleton<IdentityStore>()
        .AddSingleton<TokenService>()
        .AddSingleton<LoginGuard>()
        .AddSingleton<IdentityBootstrap>();
}
