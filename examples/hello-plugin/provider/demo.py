from dify_plugin import ToolProvider

class DemoProvider(ToolProvider):
    pass
