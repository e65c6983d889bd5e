from dify_plugin import Plugin, DifyPluginEnv

plugin = Plugin(DifyPluginEnv())
